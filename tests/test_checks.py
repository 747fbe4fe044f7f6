"""Check discovery and selection, and the check scripts themselves."""

import shutil
import subprocess

import pytest

from l2wg import checks
from l2wg.errors import L2wgError

SHIPPED = {"selftests", "ping", "arp", "dhcp", "vlan", "pppoe", "frames", "multipeer", "mtu",
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
    assert SHIPPED - {"netns"} <= set(default)


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
    found = checks.discover(tmp_path)
    assert list(found) == ["a", "b"]
    assert found["a"] == checks.Check("a", tmp_path / "a.sh", "Does a.")
    assert found["b"].slow and found["b"].timeout == 90 and found["b"].description == "Does b."


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
