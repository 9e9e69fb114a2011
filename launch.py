"""int2int entry point: ``python launch.py [group=option ...] [key=value ...]``; ``-m`` sweeps.

Examples::

    python launch.py                                    # GCD in base 30 on the embedded defaults
    python launch.py -m task=gcd encoding.base=10,30,1000
    python launch.py --cfg job                          # print the composed config
"""

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from int2int.config import ConfigError, register_configs

register_configs()
log = logging.getLogger("int2int")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from int2int.job import run_job

    try:
        return run_job(cfg)
    except ConfigError as err:  # a rule broken by the config: say which, without a traceback
        log.error("config error: %s", err)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweeper reports it with the job's overrides; the other jobs go on
        sys.exit(2)


if __name__ == "__main__":
    main()
