"""Check results: per check pass/fail/skip, written as JSON and JUnit XML and
shown as a terminal table.

A :class:`SuiteReport` is one kernel's run.  The writers take a sequence of
them, so a matrix over several kernels is the same call with more suites:
one JUnit ``<testsuite>`` per kernel, one table row per check and kernel.
``l2wg interop`` has one suite per guest of a pair (``guest`` names its
role), shown side by side by :func:`guest_table`.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .ktap import Status

EXCERPT_LINES = 60
# Characters XML 1.0 cannot carry (console logs have escape sequences).
XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class SubResult:
    name: str
    status: Status
    reason: str = ""


@dataclass
class CheckResult:
    name: str
    status: Status
    seconds: float
    #: Why it was skipped or failed, in one line.
    reason: str = ""
    #: The check's console output (and any kernel report), on failure.
    excerpt: str = ""
    subtests: list[SubResult] = field(default_factory=list)


@dataclass
class SuiteReport:
    """The checks of one boot of one kernel."""

    kernel: str
    accelerator: str
    checks: list[CheckResult]
    #: Wall time of the whole boot (QEMU start to exit).
    seconds: float
    command: str = ""
    console_log: str = ""
    #: Problems outside any single check: kernel reports, a hung guest.
    errors: list[str] = field(default_factory=list)
    #: Which guest of an interop pair ran it ("a", "b"); "" for a single boot.
    guest: str = ""

    @property
    def label(self) -> str:
        """The kernel, and for a guest of a pair its role: "a:7.3"."""
        return f"{self.guest}:{self.kernel}" if self.guest else self.kernel

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def ok(self) -> bool:
        return not self.errors and self.count(Status.FAIL) == 0


def excerpt(lines: Sequence[str], limit: int = EXCERPT_LINES) -> str:
    """The last *limit* lines (where failures usually show)."""
    lines = list(lines)
    if len(lines) > limit:
        lines = [f"[... {len(lines) - limit} lines before ...]"] + lines[-limit:]
    return "\n".join(lines)


# --- JSON --------------------------------------------------------------------

def to_dict(suite: SuiteReport) -> dict:
    data = asdict(suite)
    data["ok"] = suite.ok
    data["totals"] = {s.value: suite.count(s) for s in Status}
    return data


def write_json(suites: Sequence[SuiteReport], path: Path) -> Path:
    payload = {"suites": [to_dict(s) for s in suites],
               "ok": all(s.ok for s in suites)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def load_json(path: Path) -> list[SuiteReport]:
    """Suites back from :func:`write_json` (for matrix reports)."""
    data = json.loads(path.read_text())
    suites = []
    for s in data["suites"]:
        checks = [CheckResult(name=c["name"], status=Status(c["status"]), seconds=c["seconds"],
                              reason=c.get("reason", ""), excerpt=c.get("excerpt", ""),
                              subtests=[SubResult(t["name"], Status(t["status"]),
                                                  t.get("reason", ""))
                                        for t in c.get("subtests", [])])
                  for c in s["checks"]]
        suites.append(SuiteReport(kernel=s["kernel"], accelerator=s["accelerator"],
                                  checks=checks, seconds=s["seconds"],
                                  command=s.get("command", ""),
                                  console_log=s.get("console_log", ""),
                                  errors=s.get("errors", []), guest=s.get("guest", "")))
    return suites


# --- JUnit XML -----------------------------------------------------------------

def xml_safe(text: str) -> str:
    return XML_INVALID_RE.sub("", text)


def junit_element(suites: Sequence[SuiteReport]) -> ET.Element:
    root = ET.Element("testsuites", tests=str(sum(len(s.checks) for s in suites)),
                      failures=str(sum(s.count(Status.FAIL) for s in suites)),
                      skipped=str(sum(s.count(Status.SKIP) for s in suites)))
    for suite in suites:
        root.append(junit_suite(suite))
    return root


def junit_suite(suite: SuiteReport) -> ET.Element:
    el = ET.Element("testsuite", name=f"l2wg.{suite.label}", tests=str(len(suite.checks)),
                    failures=str(suite.count(Status.FAIL)),
                    errors=str(len(suite.errors)), skipped=str(suite.count(Status.SKIP)),
                    time=f"{suite.seconds:.2f}")
    props = ET.SubElement(el, "properties")
    for name, value in (("kernel", suite.kernel), ("accelerator", suite.accelerator),
                        ("command", suite.command), ("console_log", suite.console_log)):
        ET.SubElement(props, "property", name=name, value=xml_safe(value))
    for check in suite.checks:
        el.append(junit_case(suite.label, check))
    if suite.errors:
        ET.SubElement(el, "system-err").text = xml_safe("\n".join(suite.errors))
    return el


def junit_case(kernel: str, check: CheckResult) -> ET.Element:
    case = ET.Element("testcase", classname=f"l2wg.{kernel}", name=check.name,
                      time=f"{check.seconds:.2f}")
    if check.status is Status.FAIL:
        failure = ET.SubElement(case, "failure", message=xml_safe(check.reason or "failed"))
        failure.text = xml_safe(check.excerpt)
    elif check.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=xml_safe(check.reason))
    if check.excerpt and check.status is not Status.FAIL:
        ET.SubElement(case, "system-out").text = xml_safe(check.excerpt)
    return case


def write_junit(suites: Sequence[SuiteReport], path: Path) -> Path:
    tree = ET.ElementTree(junit_element(suites))
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


# --- terminal ------------------------------------------------------------------

MARK = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.SKIP: "SKIP"}


def summary_table(suites: Sequence[SuiteReport]) -> str:
    """A plain-text table: one row per check and kernel, then totals."""
    rows = [("kernel", "check", "result", "time", "detail")]
    for suite in suites:
        for c in suite.checks:
            rows.append((suite.label, c.name, MARK[c.status], f"{c.seconds:.1f}s",
                         c.reason[:70]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
    for suite in suites:
        lines.append(suite_line(suite))
        lines.extend(f"  ! {e.splitlines()[0]}" for e in suite.errors)
    return "\n".join(line.rstrip() for line in lines)


def guest_table(suites: Sequence[SuiteReport]) -> str:
    """One row per check and one column per suite (the guests of an interop pair,
    each running the checks from its side), then each suite's totals."""
    names = list(dict.fromkeys(c.name for s in suites for c in s.checks))
    by_suite = [{c.name: c for c in s.checks} for s in suites]
    rows = [("check", *(s.label for s in suites), "detail")]
    for name in names:
        cells, details = [], []
        for suite, checks in zip(suites, by_suite):
            c = checks.get(name)
            cells.append(f"{MARK[c.status]} {c.seconds:.1f}s" if c else "-")
            if c and c.reason:
                details.append(f"{suite.guest or suite.kernel}: {c.reason}")
        rows.append((name, *cells, "; ".join(details)[:90]))
    count = len(suites) + 1
    widths = [max(len(r[i]) for r in rows) for i in range(count)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(count)) + "  " + r[-1]
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
    for suite in suites:
        lines.append(suite_line(suite))
        lines.extend(f"  ! {e.splitlines()[0]}" for e in suite.errors)
    return "\n".join(line.rstrip() for line in lines)


def suite_line(suite: SuiteReport) -> str:
    verdict = "ok" if suite.ok else "FAILED"
    return (f"{suite.label}: {verdict}: {suite.count(Status.PASS)} passed, "
            f"{suite.count(Status.FAIL)} failed, {suite.count(Status.SKIP)} skipped "
            f"in {suite.seconds:.1f}s ({suite.accelerator})")


def failure_details(suites: Sequence[SuiteReport]) -> str:
    """The excerpt of every failed check, for the terminal after the table."""
    parts = []
    for suite in suites:
        for c in suite.checks:
            if c.status is Status.FAIL and c.excerpt:
                parts.append(f"--- {suite.label} {c.name}: {c.reason}\n{c.excerpt}")
        for e in suite.errors:
            if "\n" in e:
                parts.append(f"--- {suite.label}: {e}")
    return "\n".join(parts)
