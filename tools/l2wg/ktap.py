"""Parse KTAP (and TAP 13) from a console stream.

Understands the version line, the plan (``1..N``, ``1..0 # SKIP reason``),
result lines (``ok``/``not ok``, number, description, ``# SKIP``/``# TODO``
directives), diagnostic ``#`` lines and nested subtests, which are indented
by four more spaces than their parent and come before the parent's result
line.  Kernel log lines (``[    1.234567] ...``) mixed into the console are
ignored; other unrecognised lines are kept with the test they precede, so a
failure's excerpt shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

VERSION_RE = re.compile(r"^(K?TAP) version (\d+)\s*$")
PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(\w+)\s*(.*))?$")
RESULT_RE = re.compile(
    r"^(?P<not>not )?ok(?:\s+(?P<number>\d+))?(?:\s*-)?(?:\s+(?P<name>[^#]*?))?\s*"
    r"(?:#\s*(?P<comment>.*?))?\s*$")
DIRECTIVE_RE = re.compile(r"^(SKIP|TODO|XFAIL|TIMEOUT|ERROR)\b:?\s*(.*)$", re.IGNORECASE)
KERNEL_LINE_RE = re.compile(r"^\s*\[\s*\d+\.\d+\]")


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class TestCase:
    """One result line, with what led up to it."""

    number: int
    name: str
    status: Status
    directive: str = ""
    reason: str = ""
    #: ``#`` lines at this test's level (text after the ``#``).
    diagnostics: list[str] = field(default_factory=list)
    subtests: list["TestCase"] = field(default_factory=list)
    #: The subtests' plan, if they printed one.
    plan: int | None = None
    #: Every raw line that belongs to this test (its subtests, diagnostics,
    #: noise), without the indentation of this level, then the result line.
    lines: list[str] = field(default_factory=list)

    @property
    def failed_subtests(self) -> list["TestCase"]:
        return [t for t in self.subtests if t.status is Status.FAIL]


@dataclass
class Document:
    """A KTAP document: the top-level tests and anything wrong with it."""

    version: str = ""
    plan: int | None = None
    plan_directive: str = ""
    plan_reason: str = ""
    tests: list[TestCase] = field(default_factory=list)
    #: Diagnostics after the last result (not attached to any test).
    trailing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.plan is not None and len(self.tests) == self.plan


@dataclass
class _Level:
    indent: int
    doc: Document
    pending: list[str] = field(default_factory=list)
    pending_diagnostics: list[str] = field(default_factory=list)
    #: A just-closed nested document waiting for its parent's result line.
    nested: Document | None = None


def is_kernel_line(line: str) -> bool:
    return bool(KERNEL_LINE_RE.match(line))


def clean_lines(text: str | Iterable[str]) -> list[str]:
    """Console lines without carriage returns and without kernel log lines."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    return [ln.replace("\r", "").rstrip() for ln in lines if not is_kernel_line(ln)]


def indentation(line: str) -> int:
    expanded = line.expandtabs(8)
    return len(expanded) - len(expanded.lstrip(" "))


def parse_result(text: str) -> TestCase | None:
    m = RESULT_RE.match(text)
    if not m:
        return None
    comment = m.group("comment") or ""
    directive, reason = "", comment
    if (d := DIRECTIVE_RE.match(comment)):
        directive, reason = d.group(1).upper(), d.group(2)
    if m.group("not"):
        status = Status.FAIL
    elif directive == "SKIP":
        status = Status.SKIP
    else:
        status = Status.PASS
    return TestCase(number=int(m.group("number") or 0), name=(m.group("name") or "").strip(),
                    status=status, directive=directive, reason=reason.strip())


def parse(text: str | Iterable[str]) -> Document:
    """Parse the first KTAP document in *text* (lines or one string)."""
    root = _Level(indent=-1, doc=Document())
    stack = [root]
    started = False
    for line in clean_lines(text):
        if not line.strip():
            continue
        indent = indentation(line)
        body = line.strip()
        if not started:
            if VERSION_RE.match(body) or PLAN_RE.match(body):
                root.indent = indent
                started = True
            else:
                continue
        if indent < root.indent:
            continue  # output around the document
        _feed(stack, indent, body, line)
    _finish(stack)
    return root.doc


def _level_for(stack: list[_Level], indent: int, body: str) -> _Level:
    """The level a line at *indent* belongs to, opening a nested one for a
    deeper version or plan line."""
    while len(stack) > 1 and indent < stack[-1].indent:
        _close_nested(stack)
    top = stack[-1]
    if indent > top.indent and (VERSION_RE.match(body) or PLAN_RE.match(body)
                                or RESULT_RE.match(body)):
        stack.append(_Level(indent=indent, doc=Document()))
    return stack[-1]


def _feed(stack: list[_Level], indent: int, body: str, raw: str) -> None:
    level = _level_for(stack, indent, body)
    relative = raw.expandtabs(8)[max(level.indent, 0):]
    if (m := VERSION_RE.match(body)) and indent == level.indent:
        if level.doc.version and level.doc.tests:
            level.doc.errors.append(f"second version line: {body}")
        level.doc.version = f"{m.group(1)} {m.group(2)}"
        if level is not stack[0]:
            level.pending.append(relative)
        return
    if (m := PLAN_RE.match(body)) and indent == level.indent:
        level.doc.plan = int(m.group(1))
        level.doc.plan_directive = (m.group(2) or "").upper()
        level.doc.plan_reason = (m.group(3) or "").strip()
        if level is not stack[0]:
            level.pending.append(relative)
        return
    if indent == level.indent and (test := parse_result(body)):
        _add_result(level, test, relative)
        return
    if indent > level.indent:
        _deepest_line(stack, relative)
        return
    if body.startswith("#"):
        level.pending_diagnostics.append(body[1:].strip())
    level.pending.append(relative)


def _deepest_line(stack: list[_Level], relative: str) -> None:
    """A line indented deeper than any open level: noise of the current test."""
    level = stack[-1]
    level.pending.append(relative)
    stripped = relative.strip()
    if stripped.startswith("#"):
        level.pending_diagnostics.append(stripped[1:].strip())


def _add_result(level: _Level, test: TestCase, relative: str) -> None:
    doc = level.doc
    expected = len(doc.tests) + 1
    if test.number == 0:
        test.number = expected
    elif test.number != expected:
        doc.errors.append(f"test {test.number} '{test.name}' out of order (expected {expected})")
    test.diagnostics = level.pending_diagnostics
    test.lines = level.pending + [relative]
    level.pending_diagnostics = []
    level.pending = []
    nested, level.nested = level.nested, None
    if nested is not None:
        doc.errors.extend(f"in test {test.number} '{test.name}': {e}" for e in nested.errors)
        test.subtests = nested.tests
        test.plan = nested.plan
        if nested.plan_directive == "SKIP" and test.status is Status.PASS and not nested.tests:
            test.status, test.directive = Status.SKIP, "SKIP"
            test.reason = test.reason or nested.plan_reason
        if any(t.status is Status.FAIL for t in nested.tests) and test.status is Status.PASS:
            doc.errors.append(f"test {test.number} '{test.name}' is ok but has failed subtests")
            test.status = Status.FAIL
    doc.tests.append(test)


def _close_nested(stack: list[_Level]) -> None:
    """End the innermost level; its tests become the next result's subtests."""
    inner = stack.pop()
    outer = stack[-1]
    _check_plan(inner.doc)
    outer.nested = inner.doc
    indent = inner.indent - max(outer.indent, 0)
    lines = [" " * indent + ln for ln in inner.pending]
    outer.pending.extend(_flatten_lines(inner.doc, indent) + lines)


def _flatten_lines(doc: Document, indent: int) -> list[str]:
    out = []
    for test in doc.tests:
        out.extend(" " * indent + ln for ln in test.lines)
    return out


def _check_plan(doc: Document) -> None:
    if doc.plan is None:
        doc.errors.append("no plan line")
    elif len(doc.tests) != doc.plan:
        doc.errors.append(f"planned {doc.plan} tests, saw {len(doc.tests)}")


def _finish(stack: list[_Level]) -> None:
    while len(stack) > 1:
        _close_nested(stack)
        # Subtests with no result line after them: the parent never finished.
        outer = stack[-1]
        nested, outer.nested = outer.nested, None
        assert nested is not None
        outer.doc.errors.append(f"subtests ({len(nested.tests)} results) without a closing "
                               "result line")
    root = stack[0]
    root.doc.trailing = root.pending_diagnostics
    _check_plan(root.doc)


def walk(tests: list[TestCase], prefix: str = "") -> Iterable[tuple[str, TestCase]]:
    """Every test and subtest, with a ``parent/child`` path."""
    for test in tests:
        path = f"{prefix}{test.name or test.number}"
        yield path, test
        yield from walk(test.subtests, path + "/")
