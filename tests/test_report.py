"""Reports: JSON, JUnit XML and the terminal table."""

import json
import xml.etree.ElementTree as ET

from l2wg import report
from l2wg.ktap import Status
from l2wg.report import CheckResult, SubResult, SuiteReport


def suite(kernel="6.12", errors=None) -> SuiteReport:
    return SuiteReport(kernel=kernel, accelerator="tcg", seconds=12.5, command="qemu ...",
                       console_log="/x/console.log", errors=errors or [], checks=[
                           CheckResult("ping", Status.PASS, 2.3,
                                       subtests=[SubResult("ipv4", Status.PASS)]),
                           CheckResult("pppoe", Status.SKIP, 0.1,
                                       reason="CONFIG_PPPOE is not set"),
                           CheckResult("frames", Status.FAIL, 1.7, reason="MPLS 0x8847: lost",
                                       excerpt="# a 64-byte frame arrived 0 times\nnot ok 5"),
                       ])


def test_counts_and_verdict():
    s = suite()
    assert (s.count(Status.PASS), s.count(Status.FAIL), s.count(Status.SKIP)) == (1, 1, 1)
    assert not s.ok


def test_skips_alone_do_not_fail_but_do_not_pass_either():
    s = SuiteReport("6.12", "tcg", [CheckResult("pppoe", Status.SKIP, 0.1, "no")], 1.0)
    assert s.ok and s.count(Status.PASS) == 0


def test_suite_errors_fail_the_suite():
    s = SuiteReport("6.12", "tcg", [CheckResult("ping", Status.PASS, 1.0)], 1.0,
                    errors=["kernel WARN outside any check"])
    assert not s.ok


def test_json_has_every_check_with_status_time_and_reason(tmp_path):
    path = report.write_json([suite()], tmp_path / "results.json")
    data = json.loads(path.read_text())
    assert data["ok"] is False
    checks = {c["name"]: c for c in data["suites"][0]["checks"]}
    assert checks["ping"]["status"] == "pass" and checks["ping"]["seconds"] == 2.3
    assert checks["pppoe"]["status"] == "skip"
    assert checks["pppoe"]["reason"] == "CONFIG_PPPOE is not set"
    assert checks["frames"]["status"] == "fail" and "not ok 5" in checks["frames"]["excerpt"]
    assert data["suites"][0]["totals"] == {"pass": 1, "fail": 1, "skip": 1}


def test_json_round_trips_for_matrix_reports(tmp_path):
    path = report.write_json([suite("6.1"), suite("6.12")], tmp_path / "r.json")
    back = report.load_json(path)
    assert [s.kernel for s in back] == ["6.1", "6.12"]
    assert back[1].checks[2].status is Status.FAIL
    assert back[1].checks[0].subtests[0].name == "ipv4"


def test_junit_marks_failures_and_skips(tmp_path):
    path = report.write_junit([suite()], tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    ts = root.find("testsuite")
    assert ts.get("tests") == "3" and ts.get("failures") == "1" and ts.get("skipped") == "1"
    cases = {c.get("name"): c for c in ts.findall("testcase")}
    assert cases["ping"].find("failure") is None and cases["ping"].find("skipped") is None
    assert cases["ping"].get("time") == "2.30"
    assert cases["pppoe"].find("skipped").get("message") == "CONFIG_PPPOE is not set"
    failure = cases["frames"].find("failure")
    assert failure.get("message") == "MPLS 0x8847: lost"
    assert "arrived 0 times" in failure.text


def test_junit_has_one_testsuite_per_kernel(tmp_path):
    path = report.write_junit([suite("6.1"), suite("6.12")], tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert [ts.get("name") for ts in root.findall("testsuite")] == ["l2wg.6.1", "l2wg.6.12"]
    assert root.get("failures") == "2"


def test_junit_escapes_console_text(tmp_path):
    s = SuiteReport("6.12", "tcg", [CheckResult("x", Status.FAIL, 1.0, reason="a<b & \"c\"",
                                                excerpt="<oops> & \x1b")], 1.0)
    path = report.write_junit([s], tmp_path / "junit.xml")
    failure = ET.parse(path).getroot().find("testsuite/testcase/failure")
    assert failure.get("message") == 'a<b & "c"'


def test_summary_table_lists_each_check_and_the_totals():
    table = report.summary_table([suite()])
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["kernel", "check", "result", "time"]
    row = next(line for line in lines if " frames " in line)
    assert "FAIL" in row and "1.7s" in row and "MPLS 0x8847: lost" in row
    assert "SKIP" in next(line for line in lines if " pppoe " in line)
    assert "1 passed, 1 failed, 1 skipped" in table and "FAILED" in table


def test_failure_details_show_the_excerpt():
    details = report.failure_details([suite()])
    assert "frames: MPLS 0x8847: lost" in details and "not ok 5" in details
    assert "ping" not in details


def test_excerpt_keeps_the_tail():
    text = report.excerpt([f"line {i}" for i in range(100)], limit=10)
    assert text.splitlines()[0] == "[... 90 lines before ...]"
    assert text.splitlines()[-1] == "line 99"
