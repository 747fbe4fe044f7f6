"""KTAP parsing: what l2wg reads back from the guest's console."""

from l2wg import ktap
from l2wg.ktap import Status


def test_flat_document_with_version_plan_and_results():
    doc = ktap.parse("KTAP version 1\n1..3\nok 1 first\nnot ok 2 second\nok 3 - third\n")
    assert doc.version == "KTAP 1"
    assert doc.plan == 3
    assert [(t.number, t.name, t.status) for t in doc.tests] == [
        (1, "first", Status.PASS), (2, "second", Status.FAIL), (3, "third", Status.PASS)]
    assert doc.complete and doc.errors == []


def test_tap13_version_line_is_accepted():
    doc = ktap.parse("TAP version 13\n1..1\nok 1 x\n")
    assert doc.version == "TAP 13" and doc.tests[0].status is Status.PASS


def test_skip_directive_is_skip_with_reason_never_pass():
    doc = ktap.parse("KTAP version 1\n1..2\nok 1 pppoe # SKIP CONFIG_PPPOE is not set\n"
                     "ok 2 vlan # skip no 8021q\n")
    assert doc.tests[0].status is Status.SKIP
    assert doc.tests[0].directive == "SKIP"
    assert doc.tests[0].reason == "CONFIG_PPPOE is not set"
    assert doc.tests[1].status is Status.SKIP and doc.tests[1].reason == "no 8021q"


def test_not_ok_with_skip_directive_is_still_a_failure():
    doc = ktap.parse("KTAP version 1\n1..1\nnot ok 1 x # SKIP but broken\n")
    assert doc.tests[0].status is Status.FAIL


def test_comment_after_result_without_directive_is_the_reason():
    doc = ktap.parse("KTAP version 1\n1..1\nnot ok 1 # l2wireguard link kind not supported\n")
    test = doc.tests[0]
    assert test.status is Status.FAIL and test.directive == ""
    assert test.name == ""
    assert test.reason == "l2wireguard link kind not supported"


NESTED = """\
KTAP version 1
1..2
# l2wg: begin ping
    KTAP version 1
    1..2
    ok 1 ipv4
    # ipv6: ping failed
    not ok 2 ipv6
# l2wg: end ping exit=1 seconds=2.50
not ok 1 ping
# l2wg: begin pppoe
    KTAP version 1
    1..0 # SKIP CONFIG_PPPOE is not set
# l2wg: end pppoe exit=4 seconds=0.10
ok 2 pppoe # SKIP CONFIG_PPPOE is not set
"""


def test_nested_subtests_by_indentation():
    doc = ktap.parse(NESTED)
    ping, pppoe = doc.tests
    assert [(s.name, s.status) for s in ping.subtests] == [("ipv4", Status.PASS),
                                                          ("ipv6", Status.FAIL)]
    assert ping.plan == 2
    assert ping.subtests[1].diagnostics == ["ipv6: ping failed"]
    assert "l2wg: end ping exit=1 seconds=2.50" in ping.diagnostics
    assert pppoe.status is Status.SKIP and pppoe.subtests == []
    assert doc.errors == []


def test_test_lines_keep_the_subtest_output_for_excerpts():
    ping = ktap.parse(NESTED).tests[0]
    assert "    not ok 2 ipv6" in ping.lines
    assert ping.lines[-1] == "not ok 1 ping"
    assert not any("pppoe" in line for line in ping.lines)


def test_parent_claiming_ok_with_failed_subtest_is_a_failure():
    doc = ktap.parse("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n"
                     "    not ok 1 inner\nok 1 outer\n")
    assert doc.tests[0].status is Status.FAIL
    assert any("failed subtests" in e for e in doc.errors)


def test_kernel_log_lines_in_the_stream_are_ignored():
    text = ("[    0.100000] Linux version 6.12\nKTAP version 1\n1..1\n"
            "    KTAP version 1\n[    3.100000] br0: port 1(lan-ha) entered forwarding state\n"
            "    1..1\n    ok 1 inner\nok 1 outer\n")
    doc = ktap.parse(text)
    assert doc.tests[0].status is Status.PASS
    assert doc.tests[0].subtests[0].name == "inner"
    assert doc.errors == []


def test_carriage_returns_from_the_serial_console_are_dropped():
    doc = ktap.parse("KTAP version 1\r\n1..1\r\nok 1 x\r\n")
    assert doc.tests[0].name == "x" and doc.complete


def test_missing_results_against_the_plan_are_reported():
    doc = ktap.parse("KTAP version 1\n1..3\nok 1 a\n")
    assert not doc.complete
    assert "planned 3 tests, saw 1" in doc.errors


def test_nested_plan_mismatch_is_reported():
    doc = ktap.parse("KTAP version 1\n1..1\n    KTAP version 1\n    1..4\n    ok 1 a\n"
                     "ok 1 outer\n")
    assert any("planned 4 tests, saw 1" in e for e in doc.errors)


def test_out_of_order_numbers_are_reported():
    doc = ktap.parse("KTAP version 1\n1..2\nok 2 b\nok 1 a\n")
    assert any("out of order" in e for e in doc.errors)


def test_subtests_without_a_closing_result_are_reported():
    doc = ktap.parse("KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n")
    assert doc.tests == []
    assert any("without a closing result line" in e for e in doc.errors)


def test_text_before_the_document_is_ignored():
    doc = ktap.parse("SeaBIOS\nL2WG-BOOTED uptime=2.2\nok 7 not part of it\nKTAP version 1\n"
                     "1..1\nok 1 x\n")
    assert [t.name for t in doc.tests] == ["x"]


def test_walk_gives_paths_of_all_tests():
    paths = [p for p, _ in ktap.walk(ktap.parse(NESTED).tests)]
    assert paths == ["ping", "ping/ipv4", "ping/ipv6", "pppoe"]


def test_noise_lines_stay_with_the_test_they_precede():
    text = "KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n" \
           "    RTNETLINK answers: Operation not supported\n    not ok 1 x\nnot ok 1 c\n"
    test = ktap.parse(text).tests[0]
    assert "    RTNETLINK answers: Operation not supported" in test.lines
