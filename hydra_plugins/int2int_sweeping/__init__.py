"""int2int's Hydra plugins (Hydra loads sweepers and launchers only from the ``hydra_plugins`` namespace).

Sweeps that survive their jobs: a fault-tolerant sweeper and a Slurm launcher that waits for every job.

Hydra's basic sweeper re-raises the first failed job, which skips ``on_multirun_end`` (so no
results table), and the submitit launcher stops waiting at the first job that returned no result
(a cancelled or killed job), leaving the others unreported. Here:

- :class:`FaultTolerantSweeper` lets every job run to its end, logs each failure with its job number,
  overrides and remote traceback, and remembers them; :class:`~int2int.hydra_callbacks.CollectResults`
  then writes the table of every run and exits non-zero if any job failed.
- :class:`SlurmLauncher` waits for each job of the array on its own; a job that ends without a
  result (``scancel``, out of memory, too many timeouts) is reported and marked ``failed`` in its
  run directory. On preemption or time-out submitit calls :meth:`SlurmLauncher.checkpoint` (the run
  is marked ``preempted``) and requeues the job, which resumes from its checkpoint.
"""


import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
from omegaconf import OmegaConf

from int2int.run_files import read_metrics, read_status, write_status

log = logging.getLogger(__name__)

#: Failures of the current multirun, as (job number, overrides, error text); read by CollectResults.
FAILURES: list[tuple[int, list[str], str]] = []


def _error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)).strip()


class _TolerantLauncher:
    """Wraps a launcher: failed jobs are logged and recorded instead of aborting the sweep."""

    def __init__(self, launcher: Any):
        self.inner = launcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        results = list(self.inner.launch(job_overrides, initial_job_idx=initial_job_idx))
        for num, (ret, overrides) in enumerate(zip(results, job_overrides), start=initial_job_idx):
            if ret.status == JobStatus.FAILED:
                err = ret._return_value
                text = _error_text(err) if isinstance(err, BaseException) else str(err)
                FAILURES.append((num, list(overrides), text))
                log.error("job #%d failed: %s\n%s", num, " ".join(filter_overrides(overrides)), text)
                ret.status, ret._return_value = JobStatus.COMPLETED, None
        return results


class FaultTolerantSweeper(BasicSweeper):
    """The basic sweeper (same ``hydra.sweeper.params``), but one failed job does not stop the sweep."""

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        FAILURES.clear()
        self.launcher = _TolerantLauncher(self.launcher)


class SlurmLauncher(SubmititSlurmLauncher):
    """The submitit Slurm launcher, waiting for every job and marking preempted and lost runs."""

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        from int2int.job import current_run_dir

        run_dir = current_run_dir()
        if run_dir is not None:
            done = read_metrics(run_dir)
            write_status(run_dir, "preempted", done[-1]["epoch"] if done else 0)
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
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)

        nums = list(range(initial_job_idx, initial_job_idx + len(job_overrides)))
        state = Singleton.get_state()
        jobs = executor.map_array(self, [list(o) for o in job_overrides], ["hydra.sweep.dir"] * len(nums), nums,
                                  [f"job_id_for_{n}" for n in nums], [state] * len(nums))
        for num, job, overrides in zip(nums, jobs, job_overrides):
            log.info("#%d (Slurm job %s): %s", num, job.job_id, " ".join(filter_overrides(overrides)))
        return [self._wait(job, num, overrides, sweep_dir) for num, job, overrides in zip(nums, jobs, job_overrides)]

    def _wait(self, job: Any, num: int, overrides: Sequence[str], sweep_dir: Path) -> JobReturn:
        try:
            return job.results()[0]
        except Exception as err:  # the job ended without a result: cancelled, killed, out of time
            job.watcher.update()
            lost = RuntimeError(f"Slurm job {job.job_id} ended without a result (state {job.state})")
            lost.__cause__ = err
            run_dir = sweep_dir / str(num)
            status = read_status(run_dir)
            if (run_dir / "run.json").exists() and (status is None or status["status"] != "finished"):
                done = read_metrics(run_dir)
                write_status(run_dir, "failed", done[-1]["epoch"] if done else 0, f"{lost}:\n{err}")
            ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
            ret._return_value = lost
            return ret


@dataclass
class FaultTolerantSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.int2int_sweeping.FaultTolerantSweeper"


@dataclass
class Int2intSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.int2int_sweeping.SlurmLauncher"


def register_sweeping() -> None:
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name="fault_tolerant", node=FaultTolerantSweeperConf)
    cs.store(group="hydra/launcher", name="int2int_slurm", node=Int2intSlurmConf)


register_sweeping()
