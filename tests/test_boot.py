"""The boot stage: from a console log to per-check results; and, with a
built kernel, a real boot (integration)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l2wg import boot, checks, qemu
from l2wg.cli.exits import EXIT_INTERRUPTED
from l2wg.errors import L2wgError
from l2wg.ktap import Status
from l2wg.workspace import Workspace

DATA = Path(__file__).parent / "data"
L2_CHECKS = ["arp", "dhcp", "frames", "mtu", "multipeer", "ping", "pppoe", "vlan"]


def console(name: str, ended_by=None) -> qemu.Console:
    text = (DATA / name).read_text()
    return qemu.Console(command="qemu-system-x86_64 ...", accel="tcg", log=DATA / name,
                        text=text, seconds=9.0, returncode=0, ended_by=ended_by,
                        reports=qemu.find_reports(text))


def selected(*names):
    return checks.select(list(names))


def by_name(suite):
    return {c.name: c for c in suite.checks}


def test_stock_kernel_fails_the_l2_checks_with_a_clear_message():
    names = ["selftests", "l3-unharmed"] + L2_CHECKS
    suite = boot.suite_report("6.12", "tcg", selected(*names), console("console-stock-6.12.log"))
    results = by_name(suite)
    assert results["selftests"].status is Status.PASS
    assert results["selftests"].seconds == pytest.approx(0.19, abs=0.5)
    for name in L2_CHECKS:
        assert results[name].status is Status.FAIL, name
        assert "l2wireguard link kind not supported by this kernel" in results[name].reason
        assert "not ok" in results[name].excerpt
    l3 = results["l3-unharmed"]
    assert l3.status is Status.FAIL
    assert [s.status for s in l3.subtests[:3]] == [Status.PASS] * 3
    assert not suite.ok and suite.errors == []


def test_a_warn_during_a_passing_check_fails_that_check_with_the_trace():
    suite = boot.suite_report("6.12", "tcg", selected("selftests", "ping"),
                              console("console-warn.log"))
    results = by_name(suite)
    assert results["selftests"].status is Status.PASS
    ping = results["ping"]
    assert ping.status is Status.FAIL
    assert ping.reason.startswith("kernel WARN: WARNING: CPU: 1 PID: 187")
    assert "dev_hard_start_xmit" in ping.excerpt
    assert ping.seconds == pytest.approx(2.31)


def test_a_panic_fails_the_running_check_and_the_ones_never_started():
    suite = boot.suite_report("6.12", "tcg", selected("selftests", "multipeer", "ping"),
                              console("console-panic.log"))
    results = by_name(suite)
    assert results["selftests"].status is Status.PASS
    assert results["multipeer"].status is Status.FAIL
    assert "started but never finished" in results["multipeer"].reason
    assert "BUG" in results["multipeer"].reason
    assert "wg_l2_receive" in results["multipeer"].excerpt
    assert results["ping"].status is Status.FAIL
    assert "never started" in results["ping"].reason
    assert any("stopped before finishing" in e for e in suite.errors)
    assert not suite.ok


def test_a_hung_guest_is_reported_with_the_console_tail():
    suite = boot.suite_report("6.12", "tcg", selected("selftests", "dhcp", "vlan"),
                              console("console-hung.log", ended_by="idle"))
    results = by_name(suite)
    assert results["dhcp"].status is Status.FAIL
    assert "started but never finished (guest hung)" in results["dhcp"].reason
    assert results["vlan"].status is Status.FAIL
    assert any(e.startswith("guest hung") for e in suite.errors)
    assert "begin dhcp" in suite.errors[0]


def test_kernel_reports_outside_checks_are_suite_errors():
    text = "[    1.0] WARNING: CPU: 0 PID: 1 at init/main.c:1 x\n[    1.1] ---[ end trace ]---\n" \
        + (DATA / "console-stock-6.12.log").read_text()
    c = qemu.Console("q", "tcg", Path("c"), text, 5.0, 0, None, qemu.find_reports(text))
    suite = boot.suite_report("6.12", "tcg", selected("selftests"), c)
    assert by_name(suite)["selftests"].status is Status.PASS
    assert any("outside any check" in e for e in suite.errors) and not suite.ok


def test_skipped_check_keeps_its_reason():
    text = ("L2WG-BOOTED\nKTAP version 1\n1..1\n# l2wg: begin pppoe\n    KTAP version 1\n"
            "    1..0 # SKIP CONFIG_PPPOE is not set\n# l2wg: end pppoe exit=4 seconds=0.05\n"
            "ok 1 pppoe # SKIP CONFIG_PPPOE is not set\nL2WG-DONE\n")
    c = qemu.Console("q", "tcg", Path("c"), text, 3.0, 0, None, [])
    suite = boot.suite_report("6.12", "tcg", selected("pppoe"), c)
    assert suite.checks[0].status is Status.SKIP
    assert suite.checks[0].reason == "CONFIG_PPPOE is not set"
    assert suite.ok and suite.count(Status.PASS) == 0


def test_script_output_and_exit_status():
    text = ("[ 1.0] boot\nL2WG-BOOTED\nL2WG-SCRIPT-BEGIN\nhello\n[    2.000000] noise\n"
            "world\nL2WG-SCRIPT-EXIT 3\nL2WG-DONE\n")
    assert boot.script_result(text) == ("hello\nworld", 3)
    assert boot.script_result("L2WG-SCRIPT-BEGIN\nhalf\n")[1] is None


def test_artifacts_without_a_build_are_a_clear_error(tmp_path):
    with pytest.raises(L2wgError, match="no finished build"):
        boot.Artifacts.load(tmp_path)


def fake_artifacts(tmp_path: Path, tree: Path | None = None) -> Path:
    (tmp_path / "bzImage").write_bytes(b"kernel")
    (tmp_path / "config").write_text("CONFIG_WIREGUARD=y\n")
    (tmp_path / "metadata.json").write_text(json.dumps(
        {"kernel": "6.12", "tree": str(tree) if tree else ""}))
    return tmp_path


def test_overlay_carries_settings_config_netns_sh_and_the_script(tmp_path):
    tree = tmp_path / "tree"
    netns = tree / boot.NETNS_SH
    netns.parent.mkdir(parents=True)
    netns.write_text("#!/bin/bash\nexit 0\n")
    script = tmp_path / "user.sh"
    script.write_text("echo hi\n")
    (tmp_path / "art").mkdir()
    art = boot.Artifacts.load(fake_artifacts(tmp_path / "art", tree))
    files = boot.overlay_files(art, "checks", selected("ping", "netns"), script)
    assert files["l2wg/run.conf"].decode() == \
        "L2WG_MODE=checks\nL2WG_CHECKS='ping:60 netns:400'\nL2WG_JOBS=1\nL2WG_ALONE=netns\nL2WG_SLOWDOWN=1\n" \
        "L2WG_CONTROLS=''\n"
    assert files["l2wg/kconfig"] == b"CONFIG_WIREGUARD=y\n"
    assert files["l2wg/upstream/netns.sh"].startswith(b"#!/bin/bash")
    assert files["l2wg/user-script"] == b"echo hi\n"


def test_built_modules_reach_the_guest_unloaded_and_plan_the_kmemleak_control(tmp_path):
    art_dir = fake_artifacts(tmp_path)
    (art_dir / "config").write_text("CONFIG_DEBUG_KMEMLEAK=y\nCONFIG_MODULES=y\n")
    (art_dir / boot.BUILT_MODULES).mkdir()
    (art_dir / boot.BUILT_MODULES / "kmemleak-test.ko").write_bytes(b"\x7fELF leak")
    meta = json.loads((art_dir / "metadata.json").read_text())
    (art_dir / "metadata.json").write_text(json.dumps({**meta, "built_modules": [
        "kmemleak-test.ko"]}))
    files = boot.overlay_files(boot.Artifacts.load(art_dir), "checks", selected("ping"), None)
    assert files["l2wg/built-modules/kmemleak-test.ko"] == b"\x7fELF leak"
    assert not any(name.startswith("l2wg/modules/") for name in files)     # not loaded at boot
    assert "\nL2WG_CONTROLS=KMEMLEAK:kmemleak\n" in files["l2wg/run.conf"].decode()
    (art_dir / boot.BUILT_MODULES / "kmemleak-test.ko").unlink()
    with pytest.raises(L2wgError, match="missing: kmemleak-test.ko"):
        boot.Artifacts.load(art_dir)


def test_time_limits_grow_with_the_checks():
    fast, idle = boot.time_limits("checks", selected("ping"))
    slow, slow_idle = boot.time_limits("checks", selected("ping", "netns"))
    assert slow > fast + 400 and slow_idle > 400 > idle
    assert boot.time_limits("shell", []) == (None, None)


def test_a_sanitizer_kernels_boot_gets_its_slowdown_too():
    plain, _ = boot.time_limits("checks", selected("ping"))
    slow, idle = boot.time_limits("checks", selected("ping"), 15)
    assert slow - plain == boot.BOOT_BUDGET * 14 and idle >= boot.BOOT_BUDGET * 15


def test_a_sanitizer_kernel_gives_the_checks_more_time(tmp_path):
    plain, debug, absent = tmp_path / "plain", tmp_path / "debug", tmp_path / "absent"
    plain.write_text("CONFIG_WIREGUARD=y\n# CONFIG_KASAN is not set\nCONFIG_SMP=y\n")
    debug.write_text("CONFIG_WIREGUARD=y\nCONFIG_KASAN=y\nCONFIG_KASAN_GENERIC=y\n")
    assert boot.timeout_factor(plain) == 1 and boot.timeout_factor(absent) == 1
    assert boot.timeout_factor(debug) == 5
    smp = tmp_path / "smp"          # the largest matching row wins, in any order
    smp.write_text("CONFIG_SMP=y\nCONFIG_UBSAN=y\n" + debug.read_text())
    assert boot.timeout_factor(smp) == 15
    debian = tmp_path / "debian"     # Debian's kernels: SMP with UBSAN, no KASAN
    debian.write_text("CONFIG_SMP=y\nCONFIG_UBSAN=y\n")
    assert boot.timeout_factor(debian) == 5
    # The guest's own waits (lib.sh) learn the factor from run.conf.
    assert "\nL2WG_SLOWDOWN=5\n" in boot.run_conf("checks", selected("ping"), 2, 5)


def test_run_conf_names_the_checks_that_run_alone():
    conf = boot.run_conf("checks", checks.select(["netns", "ping", "l2-selftest"]), 4)
    assert "\nL2WG_CHECKS='netns:400 ping:60 l2-selftest:300'\n" in conf
    assert "\nL2WG_ALONE=netns\n" in conf
    assert "\nL2WG_ALONE=''\n" in boot.run_conf("checks", checks.select(["ping"]), 4)


def test_only_one_mode_at_a_time(tmp_path):
    with pytest.raises(L2wgError, match="choose one"):
        boot.boot(Workspace(tmp_path), tmp_path, checks=["ping"], shell=True)


def test_patched_kernel_log_passes_every_check_with_its_time():
    names = ["arp", "dhcp", "frames", "l3-unharmed", "mtu", "multipeer", "ping", "pppoe",
             "selftests", "vlan"]
    suite = boot.suite_report("6.12", "tcg", selected(*names), console("console-l2-6.12.log"))
    assert suite.ok, [(c.name, c.reason) for c in suite.checks]
    assert all(c.status is Status.PASS for c in suite.checks)
    assert all(c.seconds > 0 for c in suite.checks)
    multipeer = by_name(suite)["multipeer"]
    assert len(multipeer.subtests) == 9
    assert all(s.status is Status.PASS for s in multipeer.subtests)


def test_runs_started_together_get_their_own_directories(tmp_path):
    """Boots side by side (tests/test_matrix.py) start in the same second."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: boot.new_run_dir(tmp_path / "boot", "checks"), range(16)))
    assert len(set(made)) == 16 and all(d.is_dir() for d in made)
    assert all(d.parent == tmp_path / "boot" for d in made)


def test_latest_moves_to_the_newest_run_without_a_gap(tmp_path):
    base = tmp_path / "boot"
    first, second = boot.new_run_dir(base, "a"), boot.new_run_dir(base, "b")
    boot.link_latest(base, first)
    boot.link_latest(base, second)
    assert (base / "latest").resolve() == second.resolve()
    assert sorted(p.name for p in base.iterdir()) == sorted([first.name, second.name, "latest"])
    boot.link_latest(base, tmp_path / "elsewhere")           # not a run of base: untouched
    assert (base / "latest").resolve() == second.resolve()


def test_the_guests_cpus_come_from_the_request_then_the_artifacts_then_the_default(tmp_path):
    from l2wg.errors import BadInput

    for name in ("ours", "debian"):
        (tmp_path / name).mkdir()
    ours = boot.Artifacts.load(fake_artifacts(tmp_path / "ours"))
    assert ours.cpus() == qemu.Machine.cpus and ours.cpus(4) == 4
    debian = fake_artifacts(tmp_path / "debian")
    meta = json.loads((debian / "metadata.json").read_text())
    (debian / "metadata.json").write_text(json.dumps({**meta, "guest_cpus": 1}))
    assert boot.Artifacts.load(debian).cpus() == 1
    assert boot.Artifacts.load(debian).cpus(2) == 2            # --cpus still decides
    with pytest.raises(BadInput, match="--cpus 0: a guest needs at least one CPU"):
        boot.Artifacts.load(debian).cpus(0)
    (debian / "metadata.json").write_text(json.dumps({**meta, "guest_cpus": "two"}))
    with pytest.raises(L2wgError, match="guest_cpus must be a positive integer, not 'two'"):
        boot.Artifacts.load(debian)


def test_an_smp_kernel_that_brought_up_fewer_cpus_than_qemu_gave_it_is_an_error(tmp_path):
    smp, up = tmp_path / "smp.config", tmp_path / "up.config"
    smp.write_text("CONFIG_SMP=y\nCONFIG_NR_CPUS=4\n")
    up.write_text("# CONFIG_SMP is not set\n")
    one, two = "L2WG-BOOTED uptime=1\n# l2wg: cpus online 1\n", "# l2wg: cpus online 2\n"
    (error,) = boot.missing_cpus(one, smp, 2)
    assert error.startswith("the guest brought up 1 of the 2 CPUs QEMU gave it")
    assert "CONFIG_ACPI" in error
    assert boot.missing_cpus(two, smp, 2) == []
    assert boot.missing_cpus(one, up, 2) == []        # uniprocessor, as built
    assert boot.missing_cpus(one, smp, 1) == []       # one asked for (Debian's guests)
    assert boot.missing_cpus("no such line\n", smp, 2) == []   # an older init says nothing


def test_the_init_says_how_many_cpus_are_online():
    init = (Path(boot.__file__).resolve().parents[2] / "ci" / "guest" / "init.sh").read_text()
    line = next(ln for ln in init.splitlines() if "cpus online" in ln)
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert boot.CPUS_ONLINE_RE.search(out).group(1) == str(os.cpu_count())


def test_checks_side_by_side_get_their_share_of_a_cpu_as_longer_timeouts():
    assert boot.cpu_share(4, 2) == 2          # the default: four checks, two CPUs
    assert boot.cpu_share(3, 2) == 2
    assert boot.cpu_share(4, 1) == 4          # Debian's one-CPU guests
    assert boot.cpu_share(1, 2) == boot.cpu_share(2, 2) == 1


def test_checks_at_once_default_to_two_per_guest_cpu():
    assert boot.parallel_checks(None, 2) == 4     # the default guest
    assert boot.parallel_checks(None, 1) == 2     # Debian's one-CPU DKMS guests
    assert boot.parallel_checks(None, 4) == 8
    assert boot.parallel_checks(3, 1) == 3        # --parallel wins
    # so a one-CPU guest's checks get twice their timeout, not four times
    assert boot.cpu_share(boot.parallel_checks(None, 1), 1) == 2
    with pytest.raises(L2wgError, match="--parallel 0"):
        boot.parallel_checks(0, 2)


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_parallel_below_one_is_refused_in_one_line(value, capsys):
    from l2wg.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["boot", "6.12", "--parallel", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--parallel" in err[-1] and value in err[-1]


#: Runs ci/guest/init.sh's own run_checks on the checks of /init-checks: in its
#: own PID namespace, as reap_leftovers kills what has PID 1 as parent.
RUN_CHECKS = "L2WG_CHECK_DIR=/init-checks unshare -fp --mount-proc sh -c '. /tmp/init.sh; run_checks'"


def run_init_in_guest(project, real_ws, tmp_path, programs, bodies: dict[str, str],
                      script: str):
    """Boot 7.3 with *script* after the functions of the guest's /init are in
    /tmp/init.sh and the checks *bodies* (name: sh text) in /init-checks (not in
    /tmp, which each check gets empty); *script* runs them with RUN_CHECKS."""
    from l2wg import build as builds
    from l2wg.progress import silent
    builds.build(project.matrix().get("7.3"), project, real_ws, builds.BuildOptions(), silent())
    writes = "".join(f"cat >/init-checks/{name}.sh <<'CHECK'\n{body}CHECK\n"
                     for name, body in bodies.items())
    path = tmp_path / "init-checks.sh"
    path.write_text("sed -n '/^uptime_seconds()/,/^mount_pseudo_fs$/p' /init | sed '$d' "
                    f">/tmp/init.sh\nmkdir -p /init-checks\n{writes}{script}")
    return boot.boot(real_ws, real_ws.artifacts("7.3"), script=path, run_dir=tmp_path / "run",
                     progress=silent(), programs=programs)


#: Checks for the guest's own init (run_checks), four at once: "loner" fails
#: if, a second after it starts, another check has started and not ended; the
#: other two take 3 s each.
ALONE_CHECKS = {
    "loner": "sleep 1\n"
             "for f in /run/l2wg/*.start; do\n"
             "\t[ -e \"$f\" ] || continue\n"
             "\tn=${f##*/}; n=${n%.start}\n"
             "\t[ \"$n\" = loner ] || [ -e /run/l2wg/$n.end ] || { echo \"beside $n\"; exit 1; }\n"
             "done\n",
    "busy1": "sleep 3\n",
    "busy2": "sleep 3\n",
}


@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_a_check_marked_alone_runs_first_with_nothing_beside_it(
        project, real_ws, tmp_path, guest_programs):
    """ci/guest/init.sh itself, in a real guest, four checks at once: a check
    named in L2WG_ALONE runs before the others start, though listed last, and
    the KTAP numbers follow the order the results come in; with L2WG_ALONE
    empty the same check starts beside them and fails (the control)."""
    outcome = run_init_in_guest(
        project, real_ws, tmp_path, guest_programs, ALONE_CHECKS,
        "run() {\n"
        "\trm -rf /run/l2wg\n"
        f"\tL2WG_JOBS=4 L2WG_CHECKS='busy1:20 busy2:20 loner:20' L2WG_ALONE=\"$1\" {RUN_CHECKS}\n"
        "}\n"
        "echo '== alone'; run loner\necho '== beside'; run ''\n")
    text = outcome.script_output
    alone, beside = text.split("== alone", 1)[1].split("== beside", 1)
    assert "\nok 1 loner\n" in alone and "beside busy" not in alone, text
    assert sorted(re.findall(r"\nok ([23]) (busy[12])\n", alone)) in (
        [("2", "busy1"), ("3", "busy2")], [("2", "busy2"), ("3", "busy1")]), text
    assert "\nnot ok 1 loner\n" in beside and "beside busy" in beside, text


#: Four checks for the guest's own init (run_checks), side by side: "other"
#: runs 6 s; "crowded" outlives its 3 s limit while "other" runs, and passes at
#: once alone; "hang" always outlives its limit; "quick" passes.
RETRY_CHECKS = {
    "other": (20, "sleep 6\n"),
    "crowded": (3, "if [ -e /run/l2wg/other.start ] && [ ! -e /run/l2wg/other.end ]; then\n"
                   "\tsleep 30\nfi\necho alone\n"),
    "hang": (2, "sleep 30\n"),
    "quick": (10, "true\n"),
}


@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_a_check_that_timed_out_beside_others_runs_again_alone(project, real_ws, tmp_path,
                                                              guest_programs):
    """ci/guest/init.sh itself, in a real guest: a check that timed out while
    others ran gets one more run, alone, and that run's result is its own; a
    check that hangs fails either way.  The host's report says which were retried."""
    items = " ".join(f"{name}:{limit}" for name, (limit, _) in RETRY_CHECKS.items())
    outcome = run_init_in_guest(
        project, real_ws, tmp_path, guest_programs,
        {name: body for name, (_, body) in RETRY_CHECKS.items()},
        f"L2WG_JOBS=4 L2WG_CHECKS='{items}' {RUN_CHECKS}\n")
    assert outcome.script_exit == 0, outcome.script_output
    text = outcome.script_output
    assert set(boot.RETRY_RE.findall(text)) == {"crowded", "hang"}, text
    results = by_name(boot.suite_report(
        "7.3", "tcg", [checks.Check(name, tmp_path / f"{name}.sh", "", timeout=limit)
                       for name, (limit, _) in RETRY_CHECKS.items()],
        qemu.Console(command="", accel="tcg", log=tmp_path / "console.log", text=text,
                     seconds=1.0, returncode=0, ended_by=None)))
    assert results["crowded"].status is Status.PASS, text
    assert results["crowded"].reason == boot.RETRIED
    assert results["hang"].status is Status.FAIL
    assert results["hang"].reason == "timed out after 2s; " + boot.RETRIED
    assert (results["other"].status, results["other"].reason) == (Status.PASS, "")
    assert (results["quick"].status, results["quick"].reason) == (Status.PASS, "")


#: Checks that leave a process behind, holding the output they were given:
#: "leaver" passes at once, "stuck" outlives its 2 s limit.
LEAVER_CHECKS = {
    "leaver": (20, "sleep 600 &\necho started one\n"),
    "stuck": (2, "sleep 600 &\nsleep 600\n"),
}
#: How many sleep processes the guest has.
COUNT_SLEEPERS = "grep -l '^Name:.sleep$' /proc/[0-9]*/status 2>/dev/null | wc -l"


@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_nothing_a_check_leaves_running_outlives_it(project, real_ws, tmp_path, guest_programs):
    """ci/guest/init.sh itself, in a real guest, one check at a time (where a
    check's output goes through a pipe): a check that ends, or is killed at its
    limit, takes every process it started with it.  A process left holding the
    pipe made the run wait for ever (fdb-netlink's bridge monitor did).  The
    control: the same check run by hand leaves its sleep, and the count sees it."""
    items = " ".join(f"{name}:{limit}" for name, (limit, _) in LEAVER_CHECKS.items())
    outcome = run_init_in_guest(
        project, real_ws, tmp_path, guest_programs,
        {name: body for name, (_, body) in LEAVER_CHECKS.items()},
        f"L2WG_JOBS=1 L2WG_CHECKS='{items}' {RUN_CHECKS}\n"
        f"echo \"after init: $({COUNT_SLEEPERS}) sleeping\"\n"
        "sh /init-checks/leaver.sh >/dev/null\n"
        f"echo \"by hand: $({COUNT_SLEEPERS}) sleeping\"\n")
    text = outcome.script_output
    assert outcome.script_exit == 0, text
    assert "\nok 1 leaver\n" in text and "started one" in text, text
    assert "\nnot ok 2 stuck # timed out after 2s\n" in text, text
    assert "after init: 0 sleeping" in text, text
    assert "by hand: 1 sleeping" in text, text


def children(pid: int) -> list[int]:
    """The processes whose parent is *pid*."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def running(pid: int) -> bool:
    """*pid* exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.integration
@pytest.mark.builds("7.3")
def test_sigterm_ends_l2wg_and_its_qemu(project, tmp_path):
    """timeout(1) or a CI job's time limit sends SIGTERM: l2wg ends as on
    Ctrl-C, with the interrupted status, and its QEMU ends with it.  QEMU runs
    in a process group of its own, so only l2wg can end it.  Before, it went on
    running a guest that nothing read."""
    script = tmp_path / "wait.sh"
    script.write_text("sleep 300\n")
    l2wg = subprocess.Popen([sys.executable, "-m", "l2wg", "boot", "7.3", "--script", str(script)],
                            cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    qemu_pids: list[int] = []
    deadline = time.monotonic() + 120
    while not qemu_pids and time.monotonic() < deadline and l2wg.poll() is None:
        time.sleep(0.5)
        qemu_pids = [pid for pid in children(l2wg.pid)
                     if Path(f"/proc/{pid}/comm").read_text().startswith("qemu-system")]
    assert qemu_pids, l2wg.stderr.read() if l2wg.poll() is not None else "no QEMU in 120 s"
    l2wg.send_signal(signal.SIGTERM)
    _, err = l2wg.communicate(timeout=60)
    assert l2wg.returncode == EXIT_INTERRUPTED, err
    assert "l2wg: interrupted" in err, err
    assert not running(qemu_pids[0])
