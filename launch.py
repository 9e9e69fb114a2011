"""int2int entry point: ``python launch.py [group=option ...] [key=value ...]``; ``-m`` sweeps.

Examples::

    python launch.py                                    # GCD in base 30 on the embedded defaults
    python launch.py -m task=gcd encoding.base=10,30,1000
    python launch.py --cfg job                          # print the composed config
"""

import hydra
from omegaconf import DictConfig

import int2int  # noqa: F401  (registers the config groups' options)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from int2int.job import run_job

    return run_job(cfg)


if __name__ == "__main__":
    main()
