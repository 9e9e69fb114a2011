"""int2int's Hydra plugins (Hydra loads sweepers and launchers from the ``hydra_plugins`` namespace), on Hydra's public
plugin API only.

:class:`Int2intSweeper` (``hydra/sweeper=int2int``, the default of ``conf/config.yaml``):

- expands the command line and ``hydra.sweeper.params`` into jobs like Hydra's basic sweeper (the product of every
  swept key), plus **paired axes**: ``+zip='[encoding.base,schedule.epoch_size]' encoding.base=10,30
  schedule.epoch_size=1e5,3e5`` gives 2 jobs, not 4 (several groups: ``+zip='[[a,b],[c,d]]'``);
- names each job's **run directory from its overrides** (``<sweep dir>/encoding.base=10,seed=1``), not from its
  position, so that extending a sweep's value lists finds every earlier run again: finished runs are skipped,
  unfinished ones resume, only new ones start (Hydra's issue 3328). Keys that may change on resume
  (``schedule.max_epoch``, ``eval.*``, ``hardware``...) are left out of the name unless they vary in the sweep.
  ``hydra.sweep.subdir=...`` on the command line names directories as Hydra does instead;
- with ``+plan=true`` lists every job (overrides, run directory, start / resume from epoch E / skip finished /
  refused, and an estimated cost from a short measured probe of each model on this machine) and launches nothing,
  writing nothing;
- writes ``<sweep dir>/sweep.json`` (the jobs and their run directories, read by ``python -m int2int.status``);
- lets every job run to its end: a failed job (which records its own failure in its ``status.json``) is logged
  with its overrides and traceback and collected in :data:`FAILURES`; the ``CollectResults`` callback then writes
  the table of every run and exits with status 1.

:class:`SlurmLauncher` (``hardware=slurm|slurm_cpu``): the submitit Slurm launcher, waiting for each job of the
array on its own (a job that ends without a result is reported and marked ``failed`` in its run directory), marking
preempted runs, writing ``<sweep dir>/slurm.json``, and with ``hydra.launcher.detach=true`` returning as soon as the
array is submitted.
"""


import hashlib
import itertools
import logging
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence
from urllib.parse import quote

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
from omegaconf import DictConfig, OmegaConf

# int2int itself (and torch with it) is imported only when a sweep runs: Hydra imports this module in every app.

log = logging.getLogger(__name__)

#: Failures of the current multirun, as (job number, overrides, error text); read by CollectResults.
FAILURES: list[tuple[int, list[str], str]] = []
#: Why this multirun has no results table to write (a dry run, or jobs submitted without waiting for them).
NO_TABLE: list[str] = []
#: Pseudo-overrides read by the sweeper and never passed to jobs.
SWEEPER_KEYS = ("zip", "plan")
#: Run directory names longer than this are cut and end with a hash of the whole name.
MAX_NAME = 120


def run_key(overrides: Sequence[str], exclude: set[str] = frozenset()) -> str:
    """A run directory name from a job's overrides (keys in ``exclude`` left out), sorted by key:
    ``encoding.base=10,seed=1``. A name longer than :data:`MAX_NAME` is cut and ends with a hash of the whole
    (``...,optimizer.lr=0.0003,sched-3f9a0c21b7``): the name depends on the job's overrides alone, so a run is
    found again when the sweep's other value lists change."""
    kept = sorted(o for o in overrides if key_of(o) not in exclude)
    name = quote(",".join(kept), safe="=,+-._[]") or "default"
    if len(name) <= MAX_NAME:
        return name
    return f"{name[:MAX_NAME - 11]}-{hashlib.sha1(name.encode()).hexdigest()[:10]}"


def key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)).strip()


@dataclass
class Int2intSweeperConf:
    _target_: str = "hydra_plugins.int2int_sweeping.Int2intSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[dict[str, str]] = None


class Int2intSweeper(Sweeper):
    def __init__(self, max_batch_size: Optional[int] = None, params: Optional[dict[str, str]] = None):
        super().__init__()
        self.max_batch_size, self.params = max_batch_size, dict(params or {})
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    # -- the jobs ----------------------------------------------------------------------------------
    def expand(self, arguments: Sequence[str]) -> tuple[list[list[str]], bool]:
        """Every job's overrides (the product of the axes, paired axes zipped), and whether this is a dry run."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        axes: dict[str, list[str]] = {}
        zips: list[list[str]] = []
        plan = False
        for o in overrides:
            key = o.key_or_group
            if key == "zip" and o.get_key_element().startswith("+"):
                value = o.value()
                groups = value if value and isinstance(value[0], list) else [value]
                zips.extend([[str(k) for k in g] for g in groups])
            elif key == "plan" and o.get_key_element().startswith("+"):
                plan = bool(o.value())
            elif o.is_sweep_override():
                if not o.is_discrete_sweep():
                    raise HydraException(f"{o.input_line}: the int2int sweeper sweeps lists of values (a,b,c or "
                                         "range(...)), not intervals")
                axes[o.get_key_element()] = [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
            else:
                axes[o.get_key_element()] = [o.input_line]
        columns: list[list[list[str]]] = []
        paired: set[str] = set()
        for group in zips:
            keys = [k for k in axes if key_of(k) in group]
            missing = sorted(set(group) - {key_of(k) for k in keys})
            if missing:
                raise HydraException(f"+zip={group}: {', '.join(missing)} not swept on the command line")
            sizes = {k: len(axes[k]) for k in keys}
            if len(set(sizes.values())) != 1:
                raise HydraException(f"+zip={group}: paired keys need as many values each, got "
                                     + ", ".join(f"{k}: {n}" for k, n in sizes.items()))
            columns.append([list(vals) for vals in zip(*(axes[k] for k in keys))])
            paired.update(keys)
        columns += [[[v] for v in vals] for k, vals in axes.items() if k not in paired]
        jobs = [[o for part in combo for o in part] for combo in itertools.product(*columns)]
        return jobs, plan

    def name_runs(self, jobs: list[list[str]]) -> list[list[str]]:
        """Append ``hydra.sweep.subdir=<run key>`` to each job, unless the command line or a config chose another
        naming (``hydra.sweep.subdir=${hydra.job.num}`` keeps Hydra's job numbers)."""
        raw = OmegaConf.to_container(self.config.hydra.sweep, resolve=False)["subdir"]
        hydra_overrides = OmegaConf.to_container(self.config.hydra.overrides, resolve=False)["hydra"]
        given = any(key_of(o) == "hydra.sweep.subdir" for o in hydra_overrides)
        if raw != "${hydra.job.num}" or given:
            return jobs
        values: dict[str, set[str]] = {}
        for job in jobs:
            for o in job:
                values.setdefault(key_of(o), set()).add(o)
        from int2int.config import is_resumable

        constant = {k for k, v in values.items() if len(v) == 1 and (is_resumable(k) or k == "hardware")}
        names = [run_key(job, constant) for job in jobs]
        for name in {n for n in names if names.count(n) > 1}:
            raise HydraException(f"two jobs of this sweep would share the run directory {name!r}: give each job "
                                 "different values")
        return [job + [f"hydra.sweep.subdir='{name}'"] for job, name in zip(jobs, names)]

    # -- sweeping ------------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        FAILURES.clear()
        NO_TABLE.clear()
        jobs, plan = self.expand(arguments)
        jobs = self.name_runs(jobs)
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        if plan:
            from int2int.sweep_plan import print_plan

            print_plan(self.hydra_context.config_loader, self.config, jobs, sweep_dir)
            NO_TABLE.append("plan")
            return []
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        from int2int.run_files import now, write_json

        write_json(sweep_dir / "sweep.json", {
            "created": now(), "launcher": type(self.launcher).__name__,
            "jobs": [{"num": i, "overrides": filter_overrides(job), "run_dir": str(run_dir_of(sweep_dir, job, i))}
                     for i, job in enumerate(jobs)]})
        size = self.max_batch_size or len(jobs) or 1
        returns = []
        for start in range(0, len(jobs), size):
            batch = jobs[start : start + size]
            self.validate_batch_is_legal(batch)  # composition errors before anything is launched
            results = self.launcher.launch(batch, initial_job_idx=start)
            for num, (ret, overrides) in enumerate(zip(results, batch), start=start):
                record_failure(num, overrides, ret)
            returns.append(results)
        if getattr(self.launcher, "detached", False):
            NO_TABLE.append("detached")
        return returns


def run_dir_of(sweep_dir: Path, job: Sequence[str], num: int) -> Path:
    """The run directory of a job: ``<sweep dir>/<hydra.sweep.subdir>`` (the job number without one)."""
    for o in job:
        if o.startswith("hydra.sweep.subdir="):
            return sweep_dir / o.split("=", 1)[1].strip("'\"")
    return sweep_dir / str(num)


def record_failure(num: int, overrides: Sequence[str], ret: JobReturn) -> None:
    """Log a failed job with its overrides and traceback and remember it; the sweep goes on."""
    if ret.status != JobStatus.FAILED:
        return
    try:
        ret.return_value  # raises the job's exception
        text = "unknown error"
    except BaseException as err:  # noqa: BLE001 - any failure of a job is reported, never raised
        text = error_text(err)
    FAILURES.append((num, list(filter_overrides(overrides)), text))
    log.error("job #%d failed: %s\n%s", num, " ".join(filter_overrides(overrides)), text)


# --------------------------------------------------------------------------------------------------
# Slurm
# --------------------------------------------------------------------------------------------------
@dataclass
class Int2intSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.int2int_sweeping.SlurmLauncher"
    detach: bool = False  # submit the job array and return at once (watch with python -m int2int.status)


class SlurmLauncher(SubmititSlurmLauncher):
    """The submitit Slurm launcher, waiting for every job and marking preempted and lost runs."""

    detached = False

    def __init__(self, detach: bool = False, **params: Any) -> None:
        super().__init__(**params)
        self.detach = detach

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        from int2int.job import current_run_dir

        run_dir = current_run_dir()
        if run_dir is not None:
            from int2int.checkpoint import checkpoint_epoch
            from int2int.run_files import write_status

            write_status(run_dir, "preempted", checkpoint_epoch(run_dir))
            log.warning("preempted: %s will resume from its last checkpoint", run_dir)
        return super().checkpoint(*args, **kwargs)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None
        kind = self._EXECUTOR
        params = dict(self.params)
        folder = params.pop("submitit_folder")
        init = {f"{kind}_max_num_timeout": params.pop("max_num_timeout")} if "max_num_timeout" in params else {}
        executor = submitit.AutoExecutor(folder=folder, cluster=kind, **init)
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in shared else f"{kind}_{k}": v for k, v in params.items()})
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:  # +hydra.sweep.mode=770, as upstream's launch honours it
            os.chmod(sweep_dir, int(str(self.config.hydra.sweep.mode), 8))
        nums = list(range(initial_job_idx, initial_job_idx + len(job_overrides)))
        state = Singleton.get_state()
        jobs = executor.map_array(self, [list(o) for o in job_overrides], ["hydra.sweep.dir"] * len(nums), nums,
                                  [f"job_id_for_{n}" for n in nums], [state] * len(nums))
        for num, job, overrides in zip(nums, jobs, job_overrides):
            log.info("#%d (Slurm job %s): %s", num, job.job_id, " ".join(filter_overrides(overrides)))
        record_slurm_ids(sweep_dir, nums, jobs)
        if self.detach:
            self.detached = True
            array = jobs[0].job_id.split("_")[0] if jobs else "?"
            log.info("submitted Slurm job array %s (%d jobs) and detached. Watch it: python -m int2int.status %s "
                     "--watch; collect its table when it ends: python -m analysis.collect %s -o %s", array,
                     len(jobs), sweep_dir, sweep_dir, sweep_dir / "results.parquet")
            return [JobReturn(overrides=list(o), status=JobStatus.COMPLETED) for o in job_overrides]
        return [self._wait(job, num, overrides, sweep_dir) for num, job, overrides in zip(nums, jobs, job_overrides)]

    def _wait(self, job: Any, num: int, overrides: Sequence[str], sweep_dir: Path) -> JobReturn:
        try:
            return job.results()[0]
        except Exception as err:  # the job ended without a result: cancelled, killed, out of time
            job.watcher.update()
            lost = RuntimeError(f"Slurm job {job.job_id} ended without a result (state {job.state})")
            lost.__cause__ = err
            run_dir = run_dir_of(sweep_dir, overrides, num)
            from int2int.checkpoint import checkpoint_epoch
            from int2int.run_files import read_status, write_status

            status = read_status(run_dir)
            if (run_dir / "run.json").exists() and (status is None or status["status"] != "finished"):
                write_status(run_dir, "failed", checkpoint_epoch(run_dir), f"{lost}:\n{err}")
            ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
            ret.return_value = lost
            return ret


def record_slurm_ids(sweep_dir: Path, nums: list[int], jobs: list[Any]) -> None:
    """``<sweep dir>/slurm.json``: the array id and each job number's Slurm job id (for ``int2int.status``)."""
    path = sweep_dir / "slurm.json"
    known: dict[str, Any] = {}
    if path.exists():
        try:
            import json

            known = json.loads(path.read_text()).get("jobs", {})
        except (OSError, ValueError):
            known = {}
    known.update({str(n): str(j.job_id) for n, j in zip(nums, jobs)})
    array = str(jobs[0].job_id).split("_")[0] if jobs else None
    from int2int.run_files import now, write_json

    write_json(path, {"array_job_id": array, "jobs": known, "updated": now()})


def register_sweeping() -> None:
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name="int2int", node=Int2intSweeperConf)
    cs.store(group="hydra/launcher", name="int2int_slurm", node=Int2intSlurmConf)


register_sweeping()
