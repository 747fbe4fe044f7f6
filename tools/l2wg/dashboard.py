"""The report of a CI run over the matrix: kernels x stages and checks.

``write(runs, directory)`` leaves a directory a person and a CI engine can
both read: ``index.html`` (a static page: the matrix, timings, links to the
logs, which are copied beside it; rendered by jinja2 with autoescaping from
``dashboard.html.j2`` beside this module), ``summary.json``, ``junit.xml`` (one
testsuite per kernel: its stages and every check of every boot) and
``summary.md`` (for a CI step summary).  ``table()`` is the terminal view.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from . import report, store
from .pipeline import KernelRun, StageResult

SYMBOL = {"pass": "PASS", "fail": "FAIL", "skip": "skip", "xfail": "xfail"}


def stage_names(runs: Sequence[KernelRun]) -> list[str]:
    """The stages any kernel ran, in order."""
    names: list[str] = []
    for run in runs:
        names += [s.stage for s in run.stages if s.stage not in names]
    return names


def suite_columns(runs: Sequence[KernelRun]) -> list[tuple[str, str]]:
    """(kernel, stage) for every stage that booted and ran checks: the checks' columns."""
    return [(run.kernel, stage.stage) for run in runs for stage in run.stages if stage.suites]


def check_names(runs: Sequence[KernelRun]) -> list[str]:
    """Every check any boot ran, in first-seen order: the checks' rows."""
    names: list[str] = []
    for run in runs:
        for stage in run.stages:
            for suite in stage.suites:
                names += [c.name for c in suite.checks if c.name not in names]
    return names


def _stage(runs: Sequence[KernelRun], kernel: str, stage: str) -> StageResult | None:
    run = next((r for r in runs if r.kernel == kernel), None)
    return next((s for s in run.stages if s.stage == stage), None) if run else None


def stage_cell(run: KernelRun, stage_name: str) -> str:
    stage = next((s for s in run.stages if s.stage == stage_name), None)
    return SYMBOL.get(stage.status, stage.status) if stage else "-"


def check_results(stage: StageResult | None, check: str) -> list[report.CheckResult]:
    return [c for s in (stage.suites if stage else []) for c in s.checks if c.name == check]


def check_cell(stage: StageResult | None, check: str) -> str:
    """The check's result in that stage's boots (the worst, if several), or '-'."""
    statuses = [c.status.value for c in check_results(stage, check)]
    if not statuses:
        return "-"
    worst = "fail" if "fail" in statuses else statuses[0]
    return SYMBOL.get(worst, worst)


def _text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def matrix_rows(runs: Sequence[KernelRun]) -> tuple[list[list[str]], list[list[str]]]:
    """The two tables: kernels x stages, and checks x (kernel, stage) boots."""
    stages = stage_names(runs)
    kernels = [["kernel", *stages]] + [[r.kernel, *[stage_cell(r, s) for s in stages]]
                                       for r in runs]
    boots = suite_columns(runs)
    checks = [["check", *[f"{k} {s}" for k, s in boots]]]
    checks += [[name, *[check_cell(_stage(runs, k, s), name) for k, s in boots]]
               for name in check_names(runs)]
    return kernels, checks


def table(runs: Sequence[KernelRun]) -> str:
    """The terminal view: kernels x stages, checks x boots, timings, what did not pass."""
    kernels, checks = matrix_rows(runs)
    lines = _text_table(kernels)
    if len(checks) > 1:
        lines += ["", *_text_table(checks)]
    lines.append("")
    for run in runs:
        lines.append(timings(run))
    for run in runs:
        for stage in run.stages:
            if stage.status != "pass":
                lines.append(f"{run.kernel} {stage.stage}: {stage.status}: {stage.detail[:200]}"
                             + (f" (log: {stage.log})" if stage.log else ""))
    return "\n".join(lines)


def timings(run: KernelRun) -> str:
    """One line per kernel: each stage's seconds, '=' marking a stage reused as up to date."""
    parts = [f"{s.stage} {s.seconds:.0f} s{'=' if s.up_to_date else ''}" for s in run.stages]
    total = sum(s.seconds for s in run.stages)
    return f"{run.kernel}: {', '.join(parts)}; total {total:.0f} s" + \
        (" (= up to date: inputs unchanged since it last passed)"
         if any(s.up_to_date for s in run.stages) else "")


def _copy_log(stage: StageResult, directory: Path) -> str | None:
    if not stage.log or not Path(stage.log).is_file():
        return None
    # No ':' (a "7.3+dkms:7.3" pair's): upload-artifact refuses such file names.
    name = f"logs/{stage.kernel}-{stage.stage}-{Path(stage.log).name}".replace(":", "-")
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    shutil.copy2(stage.log, directory / name)
    return name


def _junit(runs: Sequence[KernelRun]) -> ET.Element:
    root = ET.Element("testsuites", name="l2wg ci")
    for run in runs:
        suite = ET.SubElement(root, "testsuite", name=run.kernel)
        cases = 0
        for stage in run.stages:
            case = ET.SubElement(suite, "testcase", classname=f"{run.kernel}.stages",
                                 name=stage.stage, time=f"{stage.seconds:.1f}")
            _verdict(case, stage.status, stage.detail)
            cases += 1
            for checks in stage.suites:
                for element in report.junit_suite(checks).iter("testcase"):
                    element.set("classname", f"{run.kernel}.{stage.stage}")
                    suite.append(element)
                    cases += 1
        failures = sum(1 for c in suite.iter("testcase") if c.find("failure") is not None)
        skipped = sum(1 for c in suite.iter("testcase") if c.find("skipped") is not None)
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
    return root


def _verdict(case: ET.Element, status: str, detail: str) -> None:
    if status == "fail":
        ET.SubElement(case, "failure", message=report.xml_safe(detail[:500]))
    elif status in ("skip", "xfail"):          # JUnit has no expected failure: pytest's way
        ET.SubElement(case, "skipped", message=report.xml_safe(detail[:500]))


#: The page's template, a file beside this module (package data, see pyproject.toml).
TEMPLATE = "dashboard.html.j2"


def _html(runs: Sequence[KernelRun], logs: dict[tuple[str, str], str]) -> str:
    """index.html: the template rendered with autoescaping (names, reasons, details)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    template = env.from_string(resources.files(__package__).joinpath(TEMPLATE).read_text())
    stages = stage_names(runs)
    boots = suite_columns(runs)
    kernel_rows = []
    for run in runs:
        cells = [{"stage": next((s for s in run.stages if s.stage == name), None),
                  "value": stage_cell(run, name), "log": logs.get((run.kernel, name))}
                 for name in stages]
        kernel_rows.append({"kernel": run.kernel, "cells": cells})
    check_rows = []
    for name in check_names(runs):
        cells = []
        for kernel, stage_name in boots:
            stage = _stage(runs, kernel, stage_name)
            found = check_results(stage, name)
            cells.append({"value": check_cell(stage, name),
                          "seconds": found[0].seconds if found else None,
                          "why": "; ".join(c.reason for c in found if c.reason)})
        check_rows.append({"check": name, "cells": cells})
    return template.render(passed=sum(r.ok for r in runs), total=len(runs), stages=stages,
                           kernel_rows=kernel_rows, boots=boots, check_rows=check_rows,
                           details=[s for run in runs for s in run.stages])


def _markdown(runs: Sequence[KernelRun]) -> str:
    lines: list[str] = []
    for rows in matrix_rows(runs):
        if len(rows) < 2:
            continue
        lines += ["| " + " | ".join(rows[0]) + " |", "|---" * len(rows[0]) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        lines.append("")
    return "\n".join(lines)


def write(runs: Sequence[KernelRun], directory: Path) -> Path:
    """Write the report directory; returns the path of index.html."""
    directory.mkdir(parents=True, exist_ok=True)
    logs = {}
    for run in runs:
        for stage in run.stages:
            copied = _copy_log(stage, directory)
            if copied:
                logs[(run.kernel, stage.stage)] = copied
    store.write_json(directory / "summary.json", {
        "ok": all(r.ok for r in runs),
        "kernels": [{"kernel": r.kernel, "ok": r.ok,
                     "stages": [{**asdict(s), "suites": [report.to_dict(x) for x in s.suites]}
                                for s in r.stages]} for r in runs]})
    ET.ElementTree(_junit(runs)).write(directory / "junit.xml", encoding="utf-8",
                                       xml_declaration=True)
    (directory / "summary.md").write_text(_markdown(runs))
    (directory / "index.html").write_text(_html(runs, logs))
    return directory / "index.html"
