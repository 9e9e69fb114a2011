"""int2int: train small transformers on problems of mathematics, in sweeps.

Importing the package registers every config group option (tasks, encodings, architectures, optimisers,
schedules) in Hydra's ConfigStore, so Hydra's compose API works as soon as ``import int2int`` ran::

    import int2int
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(int2int.CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["task=modular_add", "task.modulus=97"])
"""

from pathlib import Path

__version__ = "0.2.0"

#: The directory of int2int's primary config (``config.yaml``), hardware options and sweep presets.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def _register() -> None:
    from . import encodings, models, optim, tasks  # noqa: F401  (each registers its group's options)
    from .config import register_root

    register_root()
    # the sweeper and launchers' config nodes (Hydra finds the plugins themselves on sys.path only)
    import hydra_plugins.int2int_sweeping  # noqa: F401
    import hydra_plugins.int2int_sweeping.packed  # noqa: F401


_register()
