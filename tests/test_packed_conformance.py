"""The packed launcher (``hardware=packed``) against Hydra's launcher conformance suites: for any task function that
is not an int2int training job, it must behave as Hydra's basic launcher does."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite

from conftest import ROOT

if "hydra.extra.pytest_plugin" not in sys.modules:  # see test_launcher_conformance.py
    pytest_plugins = ["hydra.extra.pytest_plugin"]

import hydra_plugins.int2int_sweeping.packed  # noqa: E402,F401  (registers hydra/launcher=int2int_packed)

LAUNCHER = "int2int_packed"


@pytest.mark.usefixtures("fresh_hydra_version_base")
@pytest.mark.parametrize("launcher_name, overrides", [(LAUNCHER, [])])
class TestPackedLauncher(LauncherTestSuite):
    """Sweeps of Hydra's test app (basic sweeper) in this process."""


class TestPackedLauncherIntegration(IntegrationTestSuite):
    """Hydra apps written to the test's tmp dir and run as ``python task.py -m ...`` subprocesses."""

    @pytest.fixture(autouse=True)
    def _plugin_importable(self, monkeypatch) -> None:
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))

    @pytest.fixture
    def task_launcher_cfg(self) -> dict:
        return {}

    @pytest.fixture
    def extra_flags(self, tmp_path: Path) -> list[str]:
        return ["-m", "hydra/hydra_logging=disabled", "hydra/job_logging=disabled", f"hydra/launcher={LAUNCHER}"]
