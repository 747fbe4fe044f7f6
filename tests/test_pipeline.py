"""The CI pipeline's bookkeeping and its report (no kernel needed): stage
ordering and skips, expected failures, the matrix table, HTML, JUnit, JSON."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

from l2wg import dashboard, pipeline
from l2wg.errors import L2wgError
from l2wg.kernels import Expect, Kernel, SourceSpec
from l2wg.ktap import Status
from l2wg.progress import silent
from l2wg.report import CheckResult, SuiteReport


def kernel(xfail=None, **expect) -> Kernel:
    return Kernel("6.12", SourceSpec(type="debian", package="linux-source-6.12"), version="6.12",
                  expect=Expect(xfail=xfail or {}, **expect))


def suite(*results) -> SuiteReport:
    return SuiteReport("6.12", "tcg", [CheckResult(n, s, 1.0, reason=r) for n, s, r in results],
                       10.0)


def runner(ws, stages=pipeline.STAGES, xfail=None, **expect):
    return pipeline._Runner(kernel(xfail, **expect), None, ws,
                            pipeline.PipelineOptions(stages=stages), silent())


def test_failed_stage_skips_what_needs_it_and_keeps_the_error(ws, tmp_path):
    r = runner(ws)

    def broken():
        raise L2wgError("make failed", tmp_path / "build.log")

    r.stage("build", None, broken)
    r.stage("boot", "build", lambda: pipeline.StageResult("6.12", "boot", "pass"))
    r.stage("dkms", None, lambda: pipeline.StageResult("6.12", "dkms", "pass"))
    assert [(s.stage, s.status) for s in r.run.stages] == [
        ("build", "fail"), ("boot", "skip"), ("dkms", "pass")]
    assert r.run.stages[0].log == str(tmp_path / "build.log")
    assert r.run.stages[1].detail == "build did not pass"
    assert not r.run.ok


def test_unselected_stages_do_not_run(ws):
    r = runner(ws, stages=("boot",))
    r.stage("build", None, lambda: 1 / 0)
    r.stage("boot", "build", lambda: pipeline.StageResult("6.12", "boot", "pass"))
    assert [s.stage for s in r.run.stages] == ["boot"] and r.run.ok


def test_expected_failures_do_not_fail_a_boot():
    results = [suite(("ping", Status.PASS, ""), ("pppoe", Status.FAIL, "hangup"))]
    assert pipeline._suite_status(results, {})[0] == "fail"
    status, detail = pipeline._suite_status(results, {"pppoe": "pppd needs ppp_async"})
    assert status == "pass" and "expected failures: pppoe" in detail


def runs():
    good = pipeline.KernelRun("6.12", [
        pipeline.StageResult("6.12", "build", "pass", 100.0),
        pipeline.StageResult("6.12", "boot", "pass", 30.0, suites=[
            suite(("ping", Status.PASS, ""), ("vlan", Status.PASS, ""))])])
    bad = pipeline.KernelRun("6.1", [
        pipeline.StageResult("6.1", "build", "pass", 90.0),
        pipeline.StageResult("6.1", "boot", "fail", 31.0, detail="6.1: vlan", suites=[
            suite(("ping", Status.PASS, ""), ("vlan", Status.FAIL, "QinQ lost"))])])
    return [good, bad]


def test_table_has_kernels_by_stages_then_checks_by_boot():
    text = dashboard.table(runs())
    lines = text.splitlines()
    assert lines[0].split() == ["kernel", "build", "boot"]
    assert lines[2].split() == ["6.12", "PASS", "PASS"]
    assert lines[3].split() == ["6.1", "PASS", "FAIL"]
    assert lines[5].split() == ["check", "6.12", "boot", "6.1", "boot"]
    assert lines[7].split() == ["ping", "PASS", "PASS"]
    assert lines[8].split() == ["vlan", "PASS", "FAIL"]
    assert "6.1 boot: fail: 6.1: vlan" in text


def test_report_directory(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("boot log\n")
    data = runs()
    data[1].stages[1].log = str(log)
    page = dashboard.write(data, tmp_path / "report")
    html = page.read_text()
    assert "1 of 2 kernels passed" in html
    assert 'href="logs/6.1-boot-console.log"' in html
    assert (tmp_path / "report" / "logs" / "6.1-boot-console.log").read_text() == "boot log\n"
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["ok"] is False and [k["ok"] for k in summary["kernels"]] == [True, False]
    junit = ET.parse(tmp_path / "report" / "junit.xml").getroot()
    suites = {s.get("name"): s for s in junit.iter("testsuite")}
    assert suites["6.1"].get("failures") == "2" and suites["6.12"].get("failures") == "0"
    assert "QinQ lost" in html            # why a check failed, next to its result
    markdown = (tmp_path / "report" / "summary.md").read_text().splitlines()
    assert markdown[3] == "| 6.1 | PASS | FAIL |"
    assert markdown[5:9] == ["| check | 6.12 boot | 6.1 boot |", "|---|---|---|",
                             "| ping | PASS | PASS |", "| vlan | PASS | FAIL |"]


def test_table_gives_each_stages_seconds_and_marks_reused_ones():
    run = pipeline.KernelRun("6.12", [
        pipeline.StageResult("6.12", "build", "pass", seconds=2.4, up_to_date=True),
        pipeline.StageResult("6.12", "boot", "pass", seconds=38.2)])
    text = dashboard.table([run])
    assert "6.12: build 2 s=, boot 38 s; total 41 s (= up to date" in text
    assert "up to date" not in dashboard.timings(pipeline.KernelRun("6.1", [
        pipeline.StageResult("6.1", "build", "pass", seconds=200.0)]))


def _kernel_dir(root, image: bytes, config: bytes = b"CONFIG_X=y\n", modules: bool = False):
    root.mkdir()
    (root / "bzImage").write_bytes(image)
    (root / "config").write_bytes(config)
    if modules:
        (root / "modules").mkdir()
    return root


def test_a_packaged_kernel_counts_as_checked_only_when_it_is_the_same_bytes(tmp_path):
    built = _kernel_dir(tmp_path / "built", b"kernel")
    same = _kernel_dir(tmp_path / "same", b"kernel")
    relinked = _kernel_dir(tmp_path / "relinked", b"kernel #2")
    other_config = _kernel_dir(tmp_path / "config", b"kernel", b"CONFIG_X=m\n")
    with_modules = _kernel_dir(tmp_path / "modular", b"kernel", modules=True)
    assert pipeline.same_kernel(same, built) == hashlib.sha256(b"kernel").hexdigest()
    assert pipeline.same_kernel(relinked, built) is None
    assert pipeline.same_kernel(other_config, built) is None
    assert pipeline.same_kernel(with_modules, built) is None
    assert pipeline.same_kernel(tmp_path / "missing", built) is None


# kernels.toml expect.build / expect.boot = false: expected failures in l2wg ci ----------

def fake_stages(r, build, boot=None):
    """Run the kernel's stages the way run_kernel orders them, with these bodies."""
    pass_ = lambda name: (lambda: pipeline.StageResult("6.12", name, "pass", detail="ok"))  # noqa
    r.stage("build", None, build)
    r.stage("boot", "build", boot or pass_("boot"))
    r.stage("dkms", None if r.kernel.expect.build else "build", pass_("dkms"))
    r.stage("deb", "build", pass_("deb"))
    return [(s.stage, s.status) for s in r.run.stages]


def test_a_build_expected_to_fail_is_an_expected_failure_and_skips_the_rest(ws, tmp_path):
    from l2wg.errors import BuildError

    def does_not_apply():
        raise BuildError("6.12: patch 0003-l2.patch does not apply to 6.12", tmp_path / "log")

    r = runner(ws, build=False)
    assert fake_stages(r, does_not_apply) == [("build", "xfail"), ("boot", "skip"),
                                               ("dkms", "skip"), ("deb", "skip")]
    assert r.run.ok
    build, boot = r.run.stages[:2]
    assert build.detail == ("expected failure (kernels.toml expect.build = false): 6.12: patch "
                            "0003-l2.patch does not apply to 6.12")
    assert build.kind == "build" and boot.detail == "build failed as expected"
    text = dashboard.table([r.run])
    assert text.splitlines()[2].split() == ["6.12", "xfail", "skip", "skip", "skip"]
    junit = dashboard._junit([r.run])
    case = next(c for c in junit.iter("testcase") if c.get("name") == "build")
    assert case.find("skipped").get("message").startswith("expected failure")
    assert case.find("failure") is None


def test_only_a_build_failure_is_expected_not_a_fetch_failure(ws):
    from l2wg.errors import FetchError

    def unreachable():
        raise FetchError("cannot fetch http://127.0.0.1:9/linux-6.12.tar.xz")

    r = runner(ws, build=False)
    assert fake_stages(r, unreachable)[0] == ("build", "fail")
    assert not r.run.ok and r.run.stages[0].kind == "fetch"


def test_a_build_expected_to_fail_that_passes_says_the_expectation_is_stale(ws):
    r = runner(ws, build=False)
    assert fake_stages(r, lambda: pipeline.StageResult("6.12", "build", "pass", detail="6.12")) \
        == [("build", "pass"), ("boot", "pass"), ("dkms", "pass"), ("deb", "pass")]
    assert r.run.stages[0].detail == "6.12 (kernels.toml says expect.build = false: out of date?)"


def test_a_boot_expected_to_fail_is_an_expected_failure(ws):
    def checks_fail():
        return pipeline.StageResult("6.12", "boot", "fail", detail="6.12: vlan")

    r = runner(ws, boot=False)
    assert fake_stages(r, lambda: pipeline.StageResult("6.12", "build", "pass"), checks_fail) == [
        ("build", "pass"), ("boot", "xfail"), ("dkms", "pass"), ("deb", "pass")]
    assert r.run.ok and r.run.stages[1].kind == "check"
    # Without the expectation the same boot fails the kernel.
    r = runner(ws)
    fake_stages(r, lambda: pipeline.StageResult("6.12", "build", "pass"), checks_fail)
    assert not r.run.ok and r.run.stages[1].status == "fail"


def test_report_page_escapes_names_reasons_and_details(tmp_path):
    """index.html is rendered with autoescaping: nothing from a run becomes markup."""
    evil = "<script>alert(1)</script>"
    run = pipeline.KernelRun(evil, [
        pipeline.StageResult(evil, "build", "pass", 1.0, detail=f'"{evil}'),
        pipeline.StageResult(evil, "boot", "fail", 2.0, detail=evil, suites=[
            SuiteReport(evil, "tcg", [CheckResult(evil, Status.FAIL, 1.0, reason=evil)], 2.0)])])
    html = dashboard.write([run], tmp_path / "report").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'title="&#34;&lt;script&gt;' in html            # attributes too
    # Every place it shows up (kernel, boot column, check, reason, titles, details), escaped.
    assert html.count("alert(1)") == html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 10


def test_report_template_ships_with_the_package():
    """dashboard.html.j2 is package data beside the module, as pyproject.toml declares."""
    import tomllib
    from importlib import resources

    from conftest import ROOT

    assert resources.files("l2wg").joinpath(dashboard.TEMPLATE).is_file()
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(dep.startswith("jinja2") for dep in setup["project"]["dependencies"])
    assert "*.j2" in setup["tool"]["setuptools"]["package-data"]["l2wg"]


def line(name: str, dkms: bool = False) -> Kernel:
    from l2wg.kernels import DkmsHeaders

    headers = (DkmsHeaders.parse(f"linux-headers-{name}-amd64"),) if dkms else ()
    return Kernel(name, SourceSpec(type="debian", package=f"linux-source-{name}"), version=name,
                  dkms_headers=headers)


def test_interop_pairs_the_newest_line_with_the_oldest_and_with_its_dkms_kernel():
    kernels = [line("6.12"), line("7.3", dkms=True), line("6.1"), line("7.2")]
    assert pipeline.interop_pairs(kernels) == [("7.3", "6.1"), ("7.3", "dkms:7.3"),
                                               ("dkms:7.3", "dkms:7.3+future-format")]
    assert pipeline.interop_pairs([line("6.12"), line("6.1")]) == [("6.12", "6.1")]
    assert pipeline.interop_pairs([line("6.12")]) == []          # one kernel: no pair
    assert pipeline.interop_pairs([]) == []


def built(*names: str, failed: tuple[str, ...] = (), dkms: dict[str, str] | None = None
          ) -> list:
    """Kernel runs whose build passed (or failed), with a dkms stage of *dkms*'s status."""
    return [pipeline.KernelRun(n, [pipeline.StageResult(n, "build",
                                                        "fail" if n in failed else "pass")]
                               + [pipeline.StageResult(n, "dkms", (dkms or {})[n])
                                  for _ in (dkms or {}).get(n, "")[:1]])
            for n in names]


def test_a_pair_that_cannot_run_is_skipped_with_its_reason(ws):
    opts = pipeline.PipelineOptions()
    runs = built("7.3", "6.1", failed=("6.1",))
    for pair, why in ((("7.3", "dkms:7.3"), "the dkms stage of 7.3 did not run in this run"),
                      (("7.3", "6.1"), "the build of 6.1 did not pass in this run"),
                      (("6.1", "dkms:7.3"), "the build of 6.1 did not pass in this run; "
                                            "the dkms stage of 7.3 did not run in this run"),
                      (("dkms:7.3", "dkms:7.3+future-format"),
                       "the dkms stage of 7.3 did not run in this run")):
        run = pipeline.run_pair(pair, runs, None, ws, opts, silent())
        assert run.kernel == "+".join(pair) and run.ok
        assert [(s.stage, s.status, s.detail) for s in run.stages] == [("interop", "skip", why)]
    for status in ("fail", "skip"):
        assert pipeline.pair_skip_reason(("7.3", "dkms:7.3"), built("7.3", dkms={"7.3": status}),
                                         opts) == "the dkms stage of 7.3 did not pass in this run"
    debug = pipeline.PipelineOptions(build=pipeline.builds.BuildOptions(variant="debug"))
    for pair in (("7.3", "6.1"), ("7.3", "dkms:7.3")):
        assert pipeline.pair_skip_reason(pair, built("7.3", "6.1", dkms={"7.3": "pass"}),
                                         debug) == \
            "interop boots default builds, not the debug variant"


def test_the_dkms_pair_runs_once_the_dkms_stage_passed(ws, project):
    from debian_kernel import dkms_guest, record_dkms

    runs = built("7.3", dkms={"7.3": "pass"})
    assert pipeline.pair_skip_reason(("7.3", "dkms:7.3"), runs, pipeline.PipelineOptions()) == ""
    # it runs: interop finds both guests, or says which it cannot have
    kernel = project.matrix().get("7.3")
    (ws.out / "7.3").mkdir(parents=True)
    for name, data in (("bzImage", "k"), ("metadata.json", '{"kernel": "7.3"}'),
                       ("config", "CONFIG_PPP=y\nCONFIG_PPP_ASYNC=y\nCONFIG_SERIAL_8250=y\n")):
        (ws.out / "7.3" / name).write_text(data)
    run = pipeline.run_pair(("7.3", "dkms:7.3"), runs, project, ws, pipeline.PipelineOptions(),
                            silent())
    (stage,) = run.stages
    assert (run.kernel, stage.kernel, stage.stage, stage.status) == \
        ("7.3+dkms:7.3", "7.3+dkms:7.3", "interop", "fail")
    assert stage.detail == "dkms:7.3: no DKMS build of 7.3 (run: l2wg dkms 7.3)"
    record_dkms(ws, kernel, dkms_guest(ws.out / "7.3" / "dkms", kernel))
    guests = pipeline.interop.find_pair(ws, project.matrix(), "7.3", "dkms:7.3")
    assert [g.label for g in guests] == ["a:7.3", "b:dkms:7.3"]
    assert pipeline.interop.choose_underlay(guests) == "ppp-serial"
    assert "7.3+dkms:7.3" in dashboard.table(runs + [run])


def test_a_pairs_log_in_the_report_has_no_colon_in_its_name(tmp_path):
    log = tmp_path / "interop.json"
    log.write_text("{}\n")
    run = pipeline.KernelRun("7.3+dkms:7.3", [pipeline.StageResult(
        "7.3+dkms:7.3", "interop", "pass", log=str(log))])
    html = dashboard.write([run], tmp_path / "report").read_text()
    assert 'href="logs/7.3+dkms-7.3-interop-interop.json"' in html
    assert (tmp_path / "report" / "logs" / "7.3+dkms-7.3-interop-interop.json").is_file()


def test_a_pair_whose_kernels_are_not_built_fails_with_the_interop_error(ws, project):
    run = pipeline.run_pair(("7.3", "6.1"), built("7.3", "6.1"), project, ws,
                            pipeline.PipelineOptions(), silent())
    (stage,) = run.stages
    assert (stage.stage, stage.status, stage.kind) == ("interop", "fail", L2wgError.kind)
    assert stage.detail.startswith("kernel 7.3 is not built") and not run.ok


def test_the_pair_gets_a_row_and_its_guests_a_column_in_the_table():
    a, b = suite(("ping", Status.PASS, "")), suite(("ping", Status.FAIL, "lost"))
    runs = built("7.3", "6.1") + [pipeline.KernelRun("7.3+6.1", [pipeline.StageResult(
        "7.3+6.1", "interop", "fail", suites=[a, b], detail="over virtio-net: 6.12: ping")])]
    text = dashboard.table(runs)
    assert "7.3+6.1" in text and "interop" in text
    kernels, checks = dashboard.matrix_rows(runs)
    assert kernels[0] == ["kernel", "build", "interop"]
    assert ["7.3+6.1", "-", dashboard.SYMBOL["fail"]] in kernels
    assert checks[0] == ["check", "7.3+6.1 interop"]
    assert checks[1] == ["ping", dashboard.check_cell(runs[-1].stages[0], "ping")] and \
        checks[1][1] != dashboard.check_cell(pipeline.StageResult("x", "boot", "pass",
                                                                  suites=[a]), "ping")


def test_a_check_stage_is_reused_only_after_a_pass_with_the_same_key(tmp_path):
    from l2wg import stamps

    log = tmp_path / "results.json"
    log.write_text("[]")
    stamp = stamps.Stamp(tmp_path / "checks.stamp.json")
    runs: list[str] = []

    def stage(status: str, key: str = "k1", rebuild: bool = False) -> pipeline.StageResult:
        def run() -> pipeline.Stamped:
            runs.append(status)
            return pipeline.Stamped(pipeline.StageResult("7.3", "boot", status),
                                    {"results": str(log)}, [log])

        return pipeline.stamped(stamp, key, rebuild,
                                lambda done: pipeline.StageResult("7.3", "boot", "pass",
                                                                  up_to_date=True,
                                                                  log=done["results"]), run)

    assert stage("fail").status == "fail" and stamp.valid("k1") is None   # a failure: no stamp
    assert stage("pass").status == "pass" and stamp.valid("k1") == {"results": str(log)}
    again = stage("fail")                     # nothing changed: reused, run() not called
    assert again.up_to_date and again.log == str(log) and runs == ["fail", "pass"]
    assert stage("pass", rebuild=True).up_to_date is False and runs[-1] == "pass"
    assert stage("fail", key="k2").status == "fail"                      # the inputs changed
    assert stamp.valid("k1") is None and stamp.valid("k2") is None       # the old stamp is gone
    log.unlink()                                                         # an output is gone
    stage("pass")
    assert runs[-1] == "pass"
