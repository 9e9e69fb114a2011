"""``hardware=packed``: the launcher that trains the small runs of a sweep that share their shapes as one stacked
model, in this process (:mod:`int2int.packed`); every other job runs as Hydra's basic launcher runs it.

Each job is set up by Hydra's own ``run_job`` (its directory, its ``.hydra`` files, its log file, the callbacks);
for a packed job the task function only prepares the run (checks, ``run.json``, data, model, resume), then the
group trains together, and each run's directory is written exactly as an unpacked run writes it. The training log
lines of a packed group go to the sweep's log, each prefixed with its run directory's name.
"""

import copy
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class Int2intPackedConf:
    _target_: str = "hydra_plugins.int2int_sweeping.packed.PackedLauncher"
    max_group: int = 64  # most runs trained as one stacked model (memory grows with it)


def key_of(sweep_config: DictConfig) -> Optional[str]:
    """The pack key of a composed job config, or None (not an int2int training job, or one that cannot be packed)."""
    from int2int.config import Config, Mode
    from int2int.packed import pack_key

    task_cfg = copy.deepcopy(sweep_config)
    with open_dict(task_cfg):
        del task_cfg["hydra"]
    try:
        config = OmegaConf.to_object(task_cfg)
    except Exception:  # noqa: BLE001 - not an int2int config (a foreign task function): run it as usual
        return None
    if not isinstance(config, Config) or config.mode != Mode.train:
        return None
    try:
        config.check()
    except ValueError:
        return None  # the job itself will report the error
    return pack_key(config)


class PackedLauncher(Launcher):
    def __init__(self, max_group: int = 64) -> None:
        super().__init__()
        self.max_group = max_group
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def run(self, config: DictConfig, task_function: TaskFunction) -> JobReturn:
        return run_job(hydra_context=self.hydra_context, task_function=task_function, config=config,
                       job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        configs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            configs.append(sweep_config)
        groups: dict[Optional[str], list[int]] = defaultdict(list)
        for i, cfg in enumerate(configs):
            groups[key_of(cfg)].append(i)
        results: list[Any] = [None] * len(configs)
        for key, members in groups.items():
            chunks = [members[k : k + self.max_group] for k in range(0, len(members), self.max_group)]
            for chunk in chunks:
                if key is None or len(chunk) == 1:
                    for i in chunk:
                        log.info("#%d (alone): %s", initial_job_idx + i, " ".join(filter_overrides(job_overrides[i])))
                        results[i] = self.run(configs[i], self.task_function)
                else:
                    self.train_group(chunk, configs, results, job_overrides, initial_job_idx)
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return results

    def train_group(self, chunk: list[int], configs: list[DictConfig], results: list[Any],
                    job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> None:
        from int2int.job import finish_run, record_failure, run_status
        from int2int.packed import prepare_job, train_packed

        prepared = {}
        for i in chunk:
            log.info("#%d (packed): %s", initial_job_idx + i, " ".join(filter_overrides(job_overrides[i])))
            results[i] = self.run(configs[i], prepare_job)
            if results[i].status == JobStatus.COMPLETED:
                prepared[i] = results[i].return_value
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if not prepared:
            return
        runs = list(prepared.values())
        try:
            with _statuses(run_status, [r.run_dir for r in runs]):
                records = train_packed(runs)
        except Exception as err:  # noqa: BLE001 - every run of the group failed with it; the sweep goes on
            for i in prepared:
                results[i].status = JobStatus.FAILED
                results[i].return_value = err
            return
        for (i, run), record in zip(prepared.items(), records):
            if isinstance(record, BaseException):  # this run alone failed (its loss was no longer finite)
                record_failure(run.run_dir, record)
                results[i].status, results[i].return_value = JobStatus.FAILED, record
            else:
                results[i].return_value = finish_run(run.run_dir, record)


class _statuses:
    """``run_status`` of several runs at once: a failure marks each of them."""

    def __init__(self, run_status: Any, run_dirs: list[Path]):
        self.managers = [run_status(d) for d in run_dirs]

    def __enter__(self) -> None:
        for m in self.managers:
            m.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        for m in self.managers:
            try:
                m.__exit__(*exc)
            except BaseException:  # noqa: BLE001 - each manager re-raises the exception: once is enough
                pass
        return False


ConfigStore.instance().store(group="hydra/launcher", name="int2int_packed", node=Int2intPackedConf)
