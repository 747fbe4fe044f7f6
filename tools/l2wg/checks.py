"""The guest checks: ``ci/checks/NAME.sh``, one KTAP-printing script each.

A check's second line is its one-line description.  An optional header line
``# l2wg: slow alone timeout=300`` marks it as left out of the default set
(``slow``), as one that must have the kernel to itself (``alone``: it runs
first, before any other check starts), and sets how long the guest lets
it run (``timeout``, seconds).
``lib.sh`` holds the helpers the checks source and is not a check.  The
kernel options a check needs are its ``require_config`` lines: the guest
skips the check without them, and a modular kernel's guest loads the modules
that provide them (packages.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import BadInput

CHECKS_DIR = Path(__file__).resolve().parents[2] / "ci" / "checks"
HELPER_FILES = {"lib.sh"}
DEFAULT_TIMEOUT = 60


@dataclass(frozen=True)
class Check:
    name: str
    path: Path
    description: str
    slow: bool = False
    timeout: int = DEFAULT_TIMEOUT
    #: It judges what every check leaves in the kernel (netns.sh counts every
    #: WireGuard keypair and peer the kernel log announces, from its oldest
    #: record), so it runs first, with nothing beside it.
    alone: bool = False
    configs: tuple[str, ...] = ()     # the CONFIG_ options of its require_config lines


def scaled(selected: Sequence[Check], factor: int) -> list[Check]:
    """*selected* with each timeout *factor* times longer (a sanitizer kernel,
    checks sharing a CPU: boot and interop)."""
    return [replace(c, timeout=c.timeout * factor) for c in selected]


def parse_header(path: Path) -> Check:
    """A :class:`Check` from the comment lines at the top of *path*."""
    description, slow, alone, timeout = "", False, False, DEFAULT_TIMEOUT
    for line in path.read_text().splitlines()[:10]:
        if not line.startswith("#") or line.startswith("#!"):
            continue
        text = line.lstrip("#").strip()
        if text.startswith("l2wg:"):
            for word in text[len("l2wg:"):].split():
                key, _, value = word.partition("=")
                if key == "slow":
                    slow = True
                elif key == "alone":
                    alone = True
                elif key == "timeout":
                    timeout = int(value)
        elif not description:
            description = text
    return Check(name=path.stem, path=path, description=description, slow=slow,
                 timeout=timeout, alone=alone, configs=required_configs(path.read_text()))


REQUIRE_CONFIG = re.compile(r"^\s*require_config\b((?:[^\n]*\\\n)*[^\n]*)", re.MULTILINE)


def required_configs(script: str) -> tuple[str, ...]:
    """The CONFIG_ options named by the ``require_config`` calls in *script*
    (continuation lines included), in order, each once."""
    found: dict[str, None] = {}
    for match in REQUIRE_CONFIG.finditer(script):
        for word in match.group(1).replace("\\\n", " ").split():
            if word.startswith("CONFIG_"):
                found[word] = None
    return tuple(found)


def discover(directory: Path = CHECKS_DIR) -> dict[str, Check]:
    """All checks in *directory*, by name, in name order."""
    checks = {}
    for path in sorted(directory.glob("*.sh")):
        if path.name not in HELPER_FILES:
            checks[path.stem] = parse_header(path)
    return checks


def select(names: Sequence[str] | None, directory: Path = CHECKS_DIR) -> list[Check]:
    """The checks named (in that order), or the default (fast) set when
    *names* is empty; ``all`` means every check, the slow ones too.  An
    unknown name is an error listing the known ones."""
    known = discover(directory)
    if not names:
        return [c for c in known.values() if not c.slow]
    if "all" in names:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        listing = ", ".join(f"{c.name}{' (slow)' if c.slow else ''}" for c in known.values())
        raise BadInput(f"unknown check {', '.join(repr(n) for n in unknown)}; "
                        f"known checks: {listing}")
    return [known[n] for n in dict.fromkeys(names)]


def describe(directory: Path = CHECKS_DIR) -> str:
    """One line per check, for ``--help`` style listings."""
    return "\n".join(f"{c.name:14} {c.description}{'  [slow]' if c.slow else ''}"
                     for c in discover(directory).values())
