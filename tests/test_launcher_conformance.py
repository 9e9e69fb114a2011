"""int2int's Slurm launcher against Hydra's launcher conformance suites, and the upstream API it is built on.

- Hydra's ``LauncherTestSuite`` (sweeps run in this process) and ``IntegrationTestSuite`` (small Hydra apps run as
  subprocesses), the suites every Hydra launcher plugin passes, run ``hydra/launcher=int2int_slurm`` on the local
  Slurm cluster with small jobs (1 CPU, 1 GB, no GPU). They need the cluster (``pytest.mark.slurm``): without one
  they are skipped, and under ``CI=true`` they fail. Every Slurm job a test submitted is cancelled when it ends.
- :class:`SlurmLauncher` re-implements hydra-submitit-launcher's ``launch`` and relies on the rest of
  ``BaseSubmititLauncher`` (``params``, ``_EXECUTOR``, ``config``, ``setup``, ``__call__``, ``checkpoint``). The
  tests without the ``slurm`` mark pin that upstream behaviour (no cluster needed), so that an upgrade that changes
  it fails here rather than in a user's sweep.

The fixtures ``hydra_sweep_runner`` and ``hydra_restore_singletons`` come from ``hydra.extra.pytest_plugin``.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import submitit
from hydra.core.utils import JobReturn, JobStatus
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
from omegaconf import OmegaConf

from conftest import ROOT, cluster_problem
from hydra_plugins.int2int_sweeping import Int2intSlurmConf, SlurmLauncher

# hydra-core registers its pytest plugin through an entry point; naming it again would register it twice (pytest
# refuses). Only when plugin autoloading is off (PYTEST_DISABLE_PLUGIN_AUTOLOAD) is it missing: require it then.
if "hydra.extra.pytest_plugin" not in sys.modules:
    pytest_plugins = ["hydra.extra.pytest_plugin"]

LAUNCHER = "int2int_slurm"
START_HINT = "start the local Slurm cluster: scripts/slurm-local.sh start && eval \"$(scripts/slurm-local.sh env)\""
#: Seconds one Hydra app of the integration suite may run (it waits for its Slurm jobs).
APP_TIMEOUT = 300


# --------------------------------------------------------------------------------------------------
# The cluster, small jobs, and cleaning up after them
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    """Skip without a usable cluster; under CI=true a missing cluster fails the test instead."""
    problem = cluster_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true but the Slurm cluster is not usable ({problem}); {START_HINT}", pytrace=False)
    pytest.skip(f"{START_HINT} ({problem})")


@pytest.fixture
def job_name(slurm_cluster) -> Iterator[str]:
    """A Slurm job name only this test uses; every job of that name is cancelled when the test ends, whatever
    happened (a sweep that failed or hung leaves none behind)."""
    name = f"int2int-conformance-{uuid.uuid4().hex[:12]}"
    yield name
    subprocess.run(["scancel", f"--name={name}"], capture_output=True, timeout=60)


def small_jobs(submitit_dir: Path, name: str) -> list[str]:
    """Launcher overrides for jobs that fit the 2-CPU test node: 1 CPU, 1 GB, no GPU, logs under the test's tmp
    dir. ``timeout_min`` stays at its default of 60: with timeout_min*60 <= signal_delay_s (120 s) submitit would
    take its own USR2 for a time-out."""
    return ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", "hydra.launcher.gpus_per_node=null",
            f"hydra.launcher.submitit_folder={submitit_dir}/%j", f"hydra.launcher.name={name}"]


# --------------------------------------------------------------------------------------------------
# Hydra's conformance suites
# --------------------------------------------------------------------------------------------------
@pytest.mark.slurm
@pytest.mark.usefixtures("fresh_hydra_version_base")
@pytest.mark.parametrize("launcher_name", [LAUNCHER])
class TestInt2intSlurmLauncher(LauncherTestSuite):
    """Sweeps of Hydra's test app (basic sweeper) in this process, each job a task of a Slurm job array."""

    @pytest.fixture
    def overrides(self, tmp_path: Path, job_name: str) -> list[str]:
        return small_jobs(tmp_path / "submitit", job_name)


@pytest.mark.slurm
class TestInt2intSlurmLauncherIntegration(IntegrationTestSuite):
    """Hydra apps written to the test's tmp dir and run as ``python task.py -m ...`` subprocesses."""

    @pytest.fixture(autouse=True)
    def _plugin_importable(self, monkeypatch) -> None:
        """The apps run from the test's tmp dir. An editable install (``pip install -e .``, setuptools' import
        hook) lets ``import hydra_plugins.int2int_sweeping`` work from anywhere, but Hydra's plugin discovery
        (pkgutil over the ``hydra_plugins`` namespace) does not see through that hook: put the repository on the
        apps' PYTHONPATH, as the other subprocess tests do."""
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))

    @pytest.fixture
    def task_launcher_cfg(self) -> dict:
        return {}

    @pytest.fixture
    def extra_flags(self, tmp_path: Path, job_name: str) -> list[str]:
        return ["-m", "hydra/hydra_logging=disabled", "hydra/job_logging=disabled", f"hydra/launcher={LAUNCHER}",
                *small_jobs(tmp_path / "submitit", job_name)]

    def generate_custom_cmd(self) -> Callable[..., list[str]]:
        """Each app under ``timeout``: a sweep that never ends fails the test instead of hanging the suite."""

        def bounded(cmd: list[str], filename: str) -> list[str]:
            return ["timeout", "-k", "10", str(APP_TIMEOUT), *cmd]

        return bounded


# --------------------------------------------------------------------------------------------------
# The upstream behaviour SlurmLauncher relies on (no cluster needed)
# --------------------------------------------------------------------------------------------------
def parameters(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


def launcher_params(tmp_path: Path) -> dict[str, Any]:
    """The keyword arguments Hydra instantiates the launcher with (every field of the config, less the target)."""
    conf = OmegaConf.structured(Int2intSlurmConf(submitit_folder=str(tmp_path / "submitit" / "%j"), cpus_per_task=1,
                                                 mem_gb=1, additional_parameters={"comment": "pin"}))
    params = OmegaConf.to_container(conf)
    del params["_target_"], params["detach"]
    return params


def test_upstream_launcher_api_is_what_slurm_launcher_uses() -> None:
    assert issubclass(SlurmLauncher, SubmititSlurmLauncher) and issubclass(SlurmLauncher, BaseSubmititLauncher)
    assert SubmititSlurmLauncher._EXECUTOR == SlurmLauncher._EXECUTOR == "slurm"
    # launch() maps self over the jobs with these arguments, in this order (submitit calls self(*args) in a job)
    assert parameters(BaseSubmititLauncher.__call__) == ["self", "sweep_overrides", "job_dir_key", "job_num",
                                                         "job_id", "singleton_state"]
    assert parameters(BaseSubmititLauncher.launch) == ["self", "job_overrides", "initial_job_idx"]
    assert parameters(BaseSubmititLauncher.setup) == ["self", "hydra_context", "task_function", "config"]
    assert parameters(BaseSubmititLauncher.checkpoint) == ["self", "args", "kwargs"]
    # launch() pops these two before passing the rest to update_parameters(), unprefixed for the shared keys
    assert {"submitit_folder", "max_num_timeout"} <= set(SlurmQueueConf.__dataclass_fields__)
    assert {"submitit_folder", "timeout_min", "cpus_per_task", "mem_gb", "name"} <= set(
        OmegaConf.structured(BaseQueueConf).keys())
    assert set(Int2intSlurmConf.__dataclass_fields__) == set(SlurmQueueConf.__dataclass_fields__) | {"detach"}
    # the submitit API launch() and _wait() use
    assert parameters(submitit.AutoExecutor.__init__)[:3] == ["self", "folder", "cluster"]
    for attr in ("update_parameters", "map_array"):
        assert callable(getattr(submitit.AutoExecutor, attr)), attr
    for attr in ("results", "state", "job_id", "watcher"):
        assert hasattr(submitit.Job, attr), attr


def test_upstream_init_and_setup_fill_params_and_config(tmp_path: Path) -> None:
    params = {**launcher_params(tmp_path), "setup": OmegaConf.create(["module load x"])}
    launcher = SlurmLauncher(detach=True, **params)
    assert launcher.detach is True
    # configs among the parameters become plain containers (launch() passes them on to submitit as they are)
    assert launcher.params == {**params, "setup": ["module load x"]}
    assert type(launcher.params["setup"]) is list and type(launcher.params["additional_parameters"]) is dict
    assert launcher.config is None
    context, task, config = object(), object(), OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    launcher.setup(hydra_context=context, task_function=task, config=config)
    assert (launcher.hydra_context, launcher.task_function, launcher.config) == (context, task, config)


def test_checkpoint_resubmits_the_launcher_with_the_same_arguments() -> None:
    """submitit calls checkpoint() on preemption: the requeued job must call the same launcher with the same
    arguments (outside a job there is no run directory to mark preempted)."""
    launcher = SlurmLauncher(submitit_folder="unused")
    args = (["seed=1"], "hydra.sweep.dir", 3, "job_id_for_3", {"instances": {}})
    delayed = launcher.checkpoint(*args)
    assert isinstance(delayed, submitit.helpers.DelayedSubmission)
    assert delayed.function is launcher
    assert delayed.args == args and delayed.kwargs == {}


class FakeJob:
    """A submitted job as submitit returns it, whose result is known at once."""

    def __init__(self, job_id: str, overrides: list[str]):
        self.job_id, self.state, self.overrides, self.waited = job_id, "RUNNING", overrides, False

    def results(self) -> list[JobReturn]:
        self.waited = True
        ret = JobReturn(overrides=self.overrides, status=JobStatus.COMPLETED)
        ret.return_value = f"result of {self.job_id}"
        return [ret]


class FakeExecutor:
    """Records how a launcher builds its submitit executor and what it submits."""

    made: list["FakeExecutor"] = []

    def __init__(self, **kwargs: Any):
        self.init, self.params, self.submitted, self.jobs = kwargs, {}, None, []
        FakeExecutor.made.append(self)

    def update_parameters(self, **kwargs: Any) -> None:
        self.params.update(kwargs)

    def map_array(self, fn: Callable[..., Any], *iterables: Any) -> list[FakeJob]:
        self.submitted = (fn, [list(it) for it in iterables])
        self.jobs = [FakeJob(f"77_{i}", list(o)) for i, o in enumerate(iterables[0])]
        return self.jobs


@pytest.fixture
def fake_submitit(monkeypatch) -> type[FakeExecutor]:
    FakeExecutor.made = []
    monkeypatch.setattr(submitit, "AutoExecutor", FakeExecutor)
    return FakeExecutor


def run_launch(launcher: Any, sweep_dir: Path, jobs: list[list[str]], **sweep: str) -> list[JobReturn]:
    launcher.setup(hydra_context=None, task_function=None,
                   config=OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir), **sweep}}}))
    return list(launcher.launch(jobs, initial_job_idx=5))


def test_launch_submits_what_upstream_launch_submits(tmp_path: Path, fake_submitit) -> None:
    """The overridden launch() builds the executor and the job array exactly as upstream's does: if upstream
    changes either (a new executor option, other arguments for __call__), this fails."""
    jobs = [["seed=0"], ["seed=1"]]
    upstream = run_launch(SubmititSlurmLauncher(**launcher_params(tmp_path)), tmp_path / "a", jobs, mode="750")
    ours_launcher = SlurmLauncher(**launcher_params(tmp_path))
    ours = run_launch(ours_launcher, tmp_path / "b", jobs, mode="750")
    # +hydra.sweep.mode sets the sweep directory's permissions
    assert (tmp_path / "a").stat().st_mode & 0o777 == (tmp_path / "b").stat().st_mode & 0o777 == 0o750
    theirs, mine = fake_submitit.made
    assert mine.init == theirs.init == {"folder": str(tmp_path / "submitit" / "%j"), "cluster": "slurm",
                                        "slurm_max_num_timeout": 0}
    assert mine.params == theirs.params
    assert mine.params["cpus_per_task"] == 1 and mine.params["slurm_additional_parameters"] == {"comment": "pin"}
    (_, their_args), (my_fn, my_args) = theirs.submitted, mine.submitted
    assert my_fn is ours_launcher
    # the Singleton states are fresh deep copies (equal only by content): compare the other arguments exactly
    assert my_args[:4] == their_args[:4] == [jobs, ["hydra.sweep.dir"] * 2, [5, 6], ["job_id_for_5", "job_id_for_6"]]
    assert all(set(state) == {"instances", "omegaconf_resolvers"} for state in my_args[4] + their_args[4])
    assert [r.return_value for r in ours] == [r.return_value for r in upstream] == ["result of 77_0",
                                                                                    "result of 77_1"]


def test_launch_records_slurm_ids(tmp_path: Path, fake_submitit) -> None:
    import json

    run_launch(SlurmLauncher(**launcher_params(tmp_path)), tmp_path / "sweep", [["seed=0"], ["seed=1"]])
    recorded = json.loads((tmp_path / "sweep" / "slurm.json").read_text())
    assert recorded["array_job_id"] == "77"
    assert recorded["jobs"] == {"5": "77_0", "6": "77_1"}


def test_detached_launch_returns_without_waiting(tmp_path: Path, fake_submitit, caplog) -> None:
    launcher = SlurmLauncher(detach=True, **launcher_params(tmp_path))
    with caplog.at_level("INFO"):
        returns = run_launch(launcher, tmp_path / "sweep", [["seed=0"], ["seed=1"]])
    assert launcher.detached
    assert not any(job.waited for job in fake_submitit.made[0].jobs)
    assert [(r.overrides, r.status) for r in returns] == [(["seed=0"], JobStatus.COMPLETED),
                                                          (["seed=1"], JobStatus.COMPLETED)]
    sweep_dir = (tmp_path / "sweep").resolve()
    assert "submitted Slurm job array 77 (2 jobs)" in caplog.text
    assert f"python -m int2int.status {sweep_dir}" in caplog.text
    assert f"python -m analysis.collect {sweep_dir} -o {sweep_dir / 'results.parquet'}" in caplog.text
