"""The report of a CI run over the matrix: kernels x stages and checks.

``write(runs, directory)`` leaves a directory a person and a CI engine can
both read: ``index.html`` (a static page: the matrix, timings, links to the
logs, which are copied beside it), ``summary.json``, ``junit.xml`` (one
testsuite per kernel: its stages and every check of every boot) and
``summary.md`` (for a CI step summary).  ``table()`` is the terminal view.
"""

from __future__ import annotations

import html
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from . import report, store
from .pipeline import KernelRun, StageResult

SYMBOL = {"pass": "PASS", "fail": "FAIL", "skip": "skip", "xfail": "xfail"}


def columns(runs: Sequence[KernelRun]) -> list[str]:
    """Stage names, then 'stage:check' for every check any boot ran, in first-seen order."""
    names: list[str] = []
    for run in runs:
        for stage in run.stages:
            if stage.stage not in names:
                names.append(stage.stage)
    for run in runs:
        for stage in run.stages:
            for suite in stage.suites:
                for check in suite.checks:
                    key = f"{stage.stage}:{check.name}"
                    if key not in names:
                        names.append(key)
    return names


def cell(run: KernelRun, column: str) -> str:
    stage_name, _, check_name = column.partition(":")
    stage = next((s for s in run.stages if s.stage == stage_name), None)
    if stage is None:
        return "-"
    if not check_name:
        return SYMBOL.get(stage.status, stage.status)
    statuses = [c.status.value for s in stage.suites for c in s.checks if c.name == check_name]
    if not statuses:
        return "-"
    worst = "fail" if "fail" in statuses else statuses[0]
    return SYMBOL.get(worst, worst)


def table(runs: Sequence[KernelRun]) -> str:
    """The terminal matrix: one row per kernel, stages first, then checks."""
    cols = columns(runs)
    rows = [["kernel", *[c.replace("boot:", "") for c in cols]]]
    rows += [[run.kernel, *[cell(run, c) for c in cols]] for run in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
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
    name = f"logs/{stage.kernel}-{stage.stage}-{Path(stage.log).name}"
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
    elif status == "skip":
        ET.SubElement(case, "skipped", message=report.xml_safe(detail[:500]))


def _html(runs: Sequence[KernelRun], logs: dict[tuple[str, str], str]) -> str:
    cols = columns(runs)
    head = "".join(f"<th>{html.escape(c.replace('boot:', ''))}</th>" for c in cols)
    body = []
    for run in runs:
        cells = []
        for col in cols:
            value = cell(run, col)
            link = logs.get((run.kernel, col)) if ":" not in col else None
            text = f'<a href="{html.escape(link)}">{value}</a>' if link else value
            cells.append(f'<td class="{value.lower()}">{text}</td>')
        body.append(f"<tr><th>{html.escape(run.kernel)}</th>{''.join(cells)}</tr>")
    timings = "".join(
        f"<tr><td>{html.escape(s.kernel)}</td><td>{html.escape(s.stage)}</td>"
        f'<td class="{s.status}">{s.status}</td><td>{s.seconds:.1f} s</td>'
        f"<td>{html.escape(s.detail)}</td></tr>" for run in runs for s in run.stages)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>l2wg matrix</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
.pass {{ background: #d4f4d4; }} .fail {{ background: #f8d0d0; }}
.skip {{ background: #eee; }} .xfail {{ background: #f4ecc8; }}
</style></head><body>
<h1>l2wg matrix</h1>
<p>{sum(r.ok for r in runs)} of {len(runs)} kernels passed.</p>
<table><tr><th>kernel</th>{head}</tr>
{chr(10).join(body)}
</table>
<h2>Stages</h2>
<table><tr><th>kernel</th><th>stage</th><th>result</th><th>time</th><th>detail</th></tr>
{timings}
</table>
</body></html>
"""


def _markdown(runs: Sequence[KernelRun]) -> str:
    cols = columns(runs)
    lines = ["| kernel | " + " | ".join(c.replace("boot:", "") for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {r.kernel} | " + " | ".join(cell(r, c) for c in cols) + " |" for r in runs]
    return "\n".join(lines) + "\n"


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
