"""End to end, on the integration kernels (tests/conftest.py): the series applied,
built, booted in QEMU, and the whole check suite run -- ping, ARP, DHCP,
VLAN/QinQ, PPPoE, raw frames, three peers, MTU, L3 unharmed -- then
upstream's netns.sh and the series' own l2.sh on the same kernel.  This is
what proves the l2wireguard series on 7.3, 6.12 and 6.1."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from l2wg import boot, build, checks
from l2wg.project import Project
from l2wg.ktap import Status
from l2wg.progress import silent

from conftest import BUILT_KERNELS

pytestmark = pytest.mark.integration

#: The suite boot's checks: the default set and the series' own l2.sh.
SUITE = [c.name for c in checks.select(None)] + ["l2-selftest"]
#: The other boot's: upstream's netns.sh, which counts every keypair and peer
#: the kernel log announces, so it is best off in a boot of its own.
SELFTEST_SCRIPTS = ["netns"]


@pytest.fixture(scope="module", params=BUILT_KERNELS)
def built(request, real_ws):
    """The kernel built with the series (a cache hit when nothing changed)."""
    project = Project(Path(__file__).resolve().parents[1])
    kernel = project.matrix().get(request.param)
    result = build.build(kernel, project, real_ws, build.BuildOptions(), silent())
    assert result.series == list(project.series().names)
    return kernel, result


@pytest.fixture(scope="module")
def boots(built, real_ws, guest_programs):
    """The kernel's two long boots, the whole suite with l2.sh and upstream's
    netns.sh, side by side: most of a boot's time is its checks waiting, so two
    fit the machine's two cores (tests/prebuild.py).  {"suite" | "selftests":
    the boot's Future}."""
    kernel, _ = built
    artifacts = real_ws.artifacts(kernel.name)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"boot-{kernel.name}") as pool:
        futures: dict[str, Future] = {
            "suite": pool.submit(boot.boot, real_ws, artifacts, checks=SUITE,
                                 progress=silent(), programs=guest_programs),
            "selftests": pool.submit(boot.boot, real_ws, artifacts, checks=SELFTEST_SCRIPTS,
                                     progress=silent(), programs=guest_programs)}
        yield futures


def verdicts(suite, kernel):
    """{check: status}, with kernels.toml's expected failures set apart."""
    failed = {c.name: c.reason for c in suite.checks if c.status is Status.FAIL
              and c.name not in kernel.expect.xfail}
    skipped = {c.name: c.reason for c in suite.checks if c.status is Status.SKIP}
    return failed, skipped


def test_suite_passes(built, boots):
    kernel, result = built
    outcome = boots["suite"].result()
    suite = outcome.suite
    assert suite is not None, outcome.errors
    assert not suite.errors, suite.errors
    failed, skipped = verdicts(suite, kernel)
    assert not failed, failed
    assert not skipped, f"our own build must run every check: {skipped}"
    assert {c.name for c in suite.checks} == set(SUITE)
    assert outcome.kernel_reports == []
    assert (outcome.run_dir / "junit.xml").is_file() and (outcome.run_dir / "results.json").is_file()
    assert "qemu-system-x86_64" in (outcome.run_dir / "command.sh").read_text()


def test_script_mode_returns_the_guests_output_and_exit_status(built, real_ws, tmp_path,
                                                               guest_programs):
    """``l2wg boot --script FILE``: any guest script, its output and exit status back."""
    kernel, result = built
    script = tmp_path / "mine.sh"
    script.write_text("echo from-the-guest $(uname -r)\n"
                      "ip link add l2wg9 type l2wireguard && ip -d link show l2wg9\n"
                      "exit 7\n")
    outcome = boot.boot(real_ws, real_ws.artifacts(kernel.name), script=script,
                        run_dir=tmp_path / "run", progress=silent(),
                        programs=guest_programs)
    assert f"from-the-guest {result.version}-l2wg" in outcome.script_output
    assert "l2wireguard" in outcome.script_output.split("from-the-guest", 1)[1]
    assert outcome.script_exit == 7 and outcome.exit_status == 1


def test_upstream_netns_sh_passes(boots):
    """Upstream's netns.sh (L3 WireGuard unharmed), from the tree that was built
    (tools/testing/selftests/wireguard), in a boot of its own; the series' own
    l2.sh from the same directory runs in the suite boot (test_suite_passes)."""
    outcome = boots["selftests"].result()
    assert outcome.suite is not None, outcome.errors
    assert sorted(c.name for c in outcome.suite.checks) == sorted(SELFTEST_SCRIPTS)
    for result in outcome.suite.checks:
        assert result.status is Status.PASS, result.name + ": " + result.reason + "\n" + \
            result.excerpt
