"""Check discovery and selection, and the check scripts themselves."""

import shutil
import subprocess

import pytest

from l2wg import checks
from l2wg.errors import L2wgError

SHIPPED = {"selftests", "ping", "arp", "dhcp", "vlan", "pppoe", "frames", "multipeer", "mtu", "l2-selftest",
           "l3-unharmed", "netns"}


def test_discovers_every_shipped_check_and_not_the_helpers():
    found = checks.discover()
    assert SHIPPED <= set(found)
    assert "lib" not in found


def test_each_check_has_a_description():
    for check in checks.discover().values():
        assert check.description, check.name


def test_netns_is_slow_with_a_long_timeout_and_not_in_the_default_set():
    found = checks.discover()
    assert found["netns"].slow and found["netns"].timeout >= 300
    default = [c.name for c in checks.select(None)]
    assert "netns" not in default
    assert SHIPPED - {"netns", "l2-selftest"} <= set(default)


def test_selection_keeps_the_order_given_and_drops_duplicates():
    assert [c.name for c in checks.select(["ping", "arp", "ping"])] == ["ping", "arp"]


def test_slow_checks_can_be_selected_by_name():
    assert [c.name for c in checks.select(["netns"])] == ["netns"]


def test_unknown_check_is_an_error_listing_the_known_ones():
    with pytest.raises(L2wgError) as exc:
        checks.select(["pnig"])
    message = str(exc.value)
    assert "unknown check 'pnig'" in message
    for name in SHIPPED:
        assert name in message


def test_header_options_are_parsed(tmp_path):
    (tmp_path / "lib.sh").write_text("# helpers\n")
    (tmp_path / "b.sh").write_text("#!/bin/sh\n# Does b.\n# l2wg: slow timeout=90\n")
    (tmp_path / "a.sh").write_text("#!/bin/sh\n# Does a.\n")
    (tmp_path / "c.sh").write_text("#!/bin/sh\n# Does c.\n# l2wg: alone\n")
    found = checks.discover(tmp_path)
    assert list(found) == ["a", "b", "c"]
    assert found["a"] == checks.Check("a", tmp_path / "a.sh", "Does a.")
    assert found["b"].slow and found["b"].timeout == 90 and found["b"].description == "Does b."
    assert not found["b"].alone and found["c"].alone and not found["c"].slow


def test_netns_has_the_kernel_to_itself_and_the_others_share_it():
    # netns.sh counts every keypair and peer the kernel log announces.
    assert [c.name for c in checks.discover().values() if c.alone] == ["netns"]


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox not installed")
@pytest.mark.parametrize("path", sorted(checks.CHECKS_DIR.glob("*.sh")), ids=lambda p: p.name)
def test_scripts_parse_under_busybox_sh(path):
    done = subprocess.run(["busybox", "sh", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("check", sorted(checks.discover().values(), key=lambda c: c.name),
                         ids=lambda c: c.name)
def test_checks_print_a_plan_and_finish(check):
    text = check.path.read_text()
    assert ". /l2wg/checks/lib.sh" in text
    assert "ktap_plan" in text and "ktap_finish" in text


def test_all_selects_every_check_including_the_slow_ones():
    assert {c.name for c in checks.select(["all"])} == set(checks.discover())


# --- the KTAP helpers of lib.sh, run on the host and parsed back --------------

LIB = checks.CHECKS_DIR / "lib.sh"


def run_lib(tmp_path, body: str, kconfig: str = "") -> tuple[int, str]:
    (tmp_path / "kconfig").write_text(kconfig)
    script = tmp_path / "check.sh"
    script.write_text(f". {LIB}\n{body}\n")
    env = {"PATH": "/usr/bin:/bin", "L2WG_KCONFIG": str(tmp_path / "kconfig"),
           "L2WG_DIR": str(tmp_path / "work"), "L2WG_SKIP_FILE": str(tmp_path / "skip")}
    done = subprocess.run(["busybox", "sh", str(script)], capture_output=True, text=True,
                          env=env, timeout=30)
    return done.returncode, done.stdout


needs_busybox = pytest.mark.skipif(shutil.which("busybox") is None, reason="no busybox")


@needs_busybox
def test_lib_results_parse_as_ktap_and_a_failure_exits_1(tmp_path):
    from l2wg import ktap
    rc, out = run_lib(tmp_path, 'ktap_plan 3\nktap_ok one\nktap_test two false\n'
                                'ktap_skip three "no tool"\nktap_finish')
    assert rc == 1
    doc = ktap.parse(out)
    assert doc.errors == []
    assert [(t.name, t.status.value) for t in doc.tests] == [
        ("one", "pass"), ("two", "fail"), ("three", "skip")]
    assert doc.tests[1].diagnostics == ["$ false"]


@needs_busybox
def test_lib_all_passing_exits_0(tmp_path):
    rc, _ = run_lib(tmp_path, "ktap_plan 1\nktap_test ok true\nktap_finish")
    assert rc == 0


@needs_busybox
def test_lib_plan_not_met_is_a_failure(tmp_path):
    rc, out = run_lib(tmp_path, "ktap_plan 2\nktap_ok one\nktap_finish")
    assert rc == 1 and "planned 2 tests, ran 1" in out


@needs_busybox
def test_lib_missing_config_skips_with_the_option_named(tmp_path):
    rc, out = run_lib(tmp_path, "require_config CONFIG_BRIDGE CONFIG_PPPOE\nktap_plan 1\n"
                                "ktap_ok never\nktap_finish", kconfig="CONFIG_BRIDGE=y\n")
    assert rc == 4
    assert "1..0 # SKIP CONFIG_PPPOE is not set in this kernel" in out
    assert (tmp_path / "skip").read_text().strip() == "CONFIG_PPPOE is not set in this kernel"
    assert "never" not in out


@needs_busybox
def test_lib_abort_fails_every_remaining_test_with_the_reason(tmp_path):
    from l2wg import ktap
    rc, out = run_lib(tmp_path, 'ktap_plan 3\nktap_ok one\nktap_abort "no l2wireguard"')
    assert rc == 1
    doc = ktap.parse(out)
    assert [t.status.value for t in doc.tests] == ["pass", "fail", "fail"]
    assert doc.tests[2].reason == "no l2wireguard" and doc.complete


@pytest.mark.skipif(shutil.which("wg") is None, reason="wireguard-tools missing")
def test_fixed_test_keys_in_lib_are_real_key_pairs():
    text = LIB.read_text()
    block = text.split('WG_TEST_KEYS="', 1)[1].split('"', 1)[0]
    pairs = [line.split() for line in block.splitlines()]
    assert [p[0] for p in pairs] == ["a", "b", "c", "a2"]
    for _, private, public in pairs:
        derived = subprocess.run(["wg", "pubkey"], input=private + "\n", capture_output=True,
                                 text=True).stdout.strip()
        assert derived == public


# --- selftests.sh, with dmesg and the l2wireguard probe faked -----------------

PASS_LINES = ("wireguard: allowedips self-tests: pass\nwireguard: nonce counter self-tests: pass\n"
              "wireguard: ratelimiter self-tests: pass\n")
L2_PASS = "wireguard: l2 frame self-tests: pass\nwireguard: fdb self-tests: pass\n"


def run_selftests(tmp_path, dmesg: str, l2wireguard: bool,
                  kconfig: str = "CONFIG_WIREGUARD=y\nCONFIG_WIREGUARD_DEBUG=y\n"):
    (tmp_path / "dmesg").write_text(dmesg)
    fakes = (f'dmesg() {{ cat "{tmp_path / "dmesg"}"; }}\n'
             f'ip() {{ {"true" if l2wireguard else "false"}; }}')
    body = (checks.CHECKS_DIR / "selftests.sh").read_text()
    body = body.replace(". /l2wg/checks/lib.sh\n", fakes + "\n")
    return run_lib(tmp_path, body, kconfig)


def selftest_results(out: str) -> list[tuple[str, str, str]]:
    from l2wg import ktap
    doc = ktap.parse(out)
    assert doc.errors == []
    return [(t.name, t.status.value, " ".join(t.diagnostics)) for t in doc.tests]


@needs_busybox
def test_selftests_on_a_stock_kernel_need_no_fdb_suite(tmp_path):
    rc, out = run_selftests(tmp_path, PASS_LINES, l2wireguard=False)
    assert rc == 0
    assert [name for name, _, _ in selftest_results(out)] == [
        "allowedips", "nonce counter", "ratelimiter"]


@needs_busybox
def test_selftests_with_l2wireguard_need_the_fdb_suite(tmp_path):
    rc, out = run_selftests(tmp_path, PASS_LINES + L2_PASS, l2wireguard=True)
    assert rc == 0
    assert selftest_results(out)[-2:] == [("l2 frame", "pass", ""), ("fdb", "pass", "")]
    rc, out = run_selftests(tmp_path, PASS_LINES + "wireguard: l2 frame self-tests: pass\n",
                            l2wireguard=True)
    assert rc == 1
    assert selftest_results(out)[-1] == ("fdb", "fail", "no 'fdb self-tests' line in dmesg")
    rc, out = run_selftests(tmp_path, PASS_LINES + "wireguard: fdb self-tests: pass\n",
                            l2wireguard=True)
    assert rc == 1
    assert selftest_results(out)[-2] == ("l2 frame", "fail",
                                         "no 'l2 frame self-tests' line in dmesg")


@needs_busybox
def test_a_failed_fdb_self_test_fails_although_wireguard_did_not_load(tmp_path):
    # A failing self-test stops WireGuard from loading: no link kind to probe.
    dmesg = (PASS_LINES + "wireguard: l2 frame self-tests: pass\n"
             "[    0.930312] wireguard: fdb self-test 12: FAIL\n"
             "[    0.930377] wireguard: fdb self-test 14: FAIL\n")
    rc, out = run_selftests(tmp_path, dmesg, l2wireguard=False)
    assert rc == 1
    assert selftest_results(out) == [
        ("allowedips", "pass", ""), ("nonce counter", "pass", ""), ("ratelimiter", "pass", ""),
        ("l2 frame", "pass", ""), ("fdb", "fail", "wireguard: fdb self-test 12: FAIL")]


@needs_busybox
def test_selftests_report_the_first_failure_line(tmp_path):
    dmesg = "wireguard: allowedips self-test 3: FAIL\nwireguard: allowedips self-test 4: FAIL\n"
    rc, out = run_selftests(tmp_path, dmesg, l2wireguard=False)
    assert rc == 1
    assert selftest_results(out)[0] == ("allowedips", "fail",
                                        "wireguard: allowedips self-test 3: FAIL")


@needs_busybox
def test_selftests_skip_without_wireguard_debug(tmp_path):
    # Debian's kernels, which the DKMS module is booted on.
    rc, out = run_selftests(tmp_path, "", l2wireguard=True,
                            kconfig="CONFIG_WIREGUARD=m\n# CONFIG_WIREGUARD_DEBUG is not set\n")
    assert rc == 4 and "SKIP CONFIG_WIREGUARD_DEBUG is not set" in out


@needs_busybox
def test_selftests_skip_the_ratelimiter_only_where_the_kernel_does(tmp_path):
    # Under KASAN or UBSAN the ratelimiter self-test returns at once, silently.
    dmesg = PASS_LINES.replace("wireguard: ratelimiter self-tests: pass\n", "") \
        + L2_PASS
    debug = "CONFIG_WIREGUARD=y\nCONFIG_WIREGUARD_DEBUG=y\nCONFIG_KASAN=y\nCONFIG_UBSAN=y\n"
    rc, out = run_selftests(tmp_path, dmesg, l2wireguard=True, kconfig=debug)
    assert rc == 0
    assert [(name, status) for name, status, _ in selftest_results(out)] == [
        ("allowedips", "pass"), ("nonce counter", "pass"), ("ratelimiter", "skip"),
        ("l2 frame", "pass"), ("fdb", "pass")]
    rc, out = run_selftests(tmp_path, dmesg, l2wireguard=True)
    assert rc == 1
    assert selftest_results(out)[2] == ("ratelimiter", "fail",
                                        "no 'ratelimiter self-tests' line in dmesg")


def test_required_configs_follow_continuation_lines_and_keep_order():
    script = ("#!/bin/sh\n. lib.sh\nrequire_config CONFIG_VETH CONFIG_BRIDGE\n"
              "echo require_config CONFIG_NOT_A_CALL\n"
              "\trequire_config CONFIG_DUMMY \\\n\tCONFIG_VETH CONFIG_IP_NF_NAT\n"
              "require_tool /usr/bin/bash\n")
    assert checks.required_configs(script) == (
        "CONFIG_VETH", "CONFIG_BRIDGE", "CONFIG_DUMMY", "CONFIG_IP_NF_NAT")


def test_every_shipped_check_states_its_kernel_options():
    """The DKMS guest loads modules from these lines: a check without them would
    run on Debian's kernel with its modules missing."""
    found = checks.discover()
    assert found["pppoe"].configs == ("CONFIG_BRIDGE", "CONFIG_VETH", "CONFIG_PPP",
                                      "CONFIG_PPPOE", "CONFIG_PPP_ASYNC")
    assert "CONFIG_IPV6_MULTIPLE_TABLES" in found["netns"].configs    # a continued line
    assert [name for name, check in found.items() if not check.configs] == []


def test_scaled_makes_each_timeout_longer_and_leaves_the_selection_alone():
    selected = checks.select(["ping", "netns"])
    longer = checks.scaled(selected, 3)
    assert [c.name for c in longer] == [c.name for c in selected]
    assert [c.timeout for c in longer] == [3 * c.timeout for c in selected]
    assert checks.scaled(selected, 1) == selected
