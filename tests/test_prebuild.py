"""tests/prebuild.py and the test order of conftest.py: the background kernel
builds of an integration run, and which tests wait for which build."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import conftest
from prebuild import Prebuild


class Item:
    """What conftest's ordering reads of a collected test."""

    def __init__(self, integration: bool, *builds: tuple[str, ...]):
        self.marks = ([pytest.mark.integration.mark] if integration else []) + \
            [pytest.mark.builds(*b).mark for b in builds]

    def get_closest_marker(self, name):
        return next((m for m in self.marks if m.name == name), None)

    def iter_markers(self, name):
        return (m for m in self.marks if m.name == name)


def test_unit_tests_first_then_each_kernel_in_build_order_then_the_rest():
    newest, middle, oldest = conftest.INTEGRATION_KERNELS
    items = {"rest": Item(True), "oldest": Item(True, (oldest,)), "unit": Item(False),
             "pair": Item(True, (newest, oldest)), "newest": Item(True, (newest,)),
             "middle": Item(True, (middle,))}
    order = sorted(items, key=lambda name: conftest.run_order(items[name]))
    assert order == ["unit", "newest", "middle", "oldest", "pair", "rest"]
    assert conftest.kernels_built_for(items["pair"]) == [newest, oldest]


def test_each_built_kernel_parameter_names_its_build():
    for param in conftest.BUILT_KERNELS:
        (mark,) = [m for m in param.marks if m.name == "builds"]
        assert mark.args == (param.id,) == tuple(param.values)


class Fake(Prebuild):
    """The real thread and processes, with a short script instead of l2wg build."""

    def __init__(self, tmp_path: Path, scripts: dict[str, str]):
        super().__init__(tmp_path, list(scripts), tmp_path / "logs")
        self.scripts = scripts

    def command(self, kernel):
        return [sys.executable, "-c", self.scripts[kernel]]


def test_builds_run_in_order_and_a_failure_keeps_its_exit_status_and_log(tmp_path):
    stamp = tmp_path / "order"
    scripts = {name: f"open({str(stamp)!r}, 'a').write({name!r} + ' '); "
                     f"print('building {name}'); raise SystemExit({code})"
               for name, code in (("7.3", 0), ("6.12", 3), ("6.1", 0))}
    prebuild = Fake(tmp_path, scripts).start()
    assert prebuild.wait("6.12").returncode == 3
    assert "building 6.12" in prebuild.wait("6.12").log.read_text()
    assert [o.returncode for o in prebuild.wait_all()] == [0, 3, 0]
    assert stamp.read_text() == "7.3 6.12 6.1 "
    assert prebuild.wait("5.10") is None                        # not one of its builds
    assert prebuild.summary() == ", ".join(
        f"{k} {s} in {prebuild.outcomes[k].seconds:.0f} s"
        for k, s in (("7.3", "ok"), ("6.12", "FAILED"), ("6.1", "ok")))


def test_stop_ends_the_running_build_and_starts_no_other(tmp_path):
    prebuild = Fake(tmp_path, {"7.3": "import time; time.sleep(60)",
                               "6.1": "print('should not run')"}).start()
    deadline = time.monotonic() + 10
    while prebuild._process is None and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    prebuild.stop()
    assert time.monotonic() - started < 30
    assert prebuild.outcomes["7.3"].returncode != 0
    assert prebuild.outcomes["6.1"].returncode == -1
    assert not (tmp_path / "logs" / "prebuild-6.1.log").exists()


def test_builds_keep_the_environment_of_the_sessions_start(tmp_path, monkeypatch):
    monkeypatch.setenv("L2WG_PREBUILD_PROBE", "at-start")
    prebuild = Fake(tmp_path, {"7.3": "import os; print(os.environ['L2WG_PREBUILD_PROBE'])"})
    monkeypatch.setenv("L2WG_PREBUILD_PROBE", "a unit test's own")
    prebuild.start()
    assert prebuild.wait("7.3").log.read_text().splitlines()[-1] == "at-start"
