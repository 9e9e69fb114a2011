"""int2int entry point: ``python launch.py [group=option ...] [key=value ...]``; ``-m`` sweeps.

Examples::

    python launch.py                                    # GCD in base 30 on the embedded defaults
    python launch.py -m task=gcd encoding.base=10,30,1000
    python launch.py --cfg job                          # print the composed config
"""

import gc

# Start-up: the imports below (torch above all) make some 280,000 objects and no garbage; the collector's passes
# over them cost 0.2 s. So it is off while they run, and what they made is then moved out of its sight for good
# (gc.freeze): later collections skip it, and exit is 0.3 s faster.
gc.disable()

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

import int2int  # noqa: E402, F401  (registers the config groups' options)

gc.freeze()
gc.enable()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from int2int.job import run_job

    return run_job(cfg)


if __name__ == "__main__":
    main()
