"""Positive controls for the sanitizer scan of a debug boot.

A debug run passes when the console shows no KASAN, UBSAN, lockdep or
kmemleak report.  "Nothing seen" only means something if the scan would have
seen one, so a kernel with lkdtm built in (ci/kconfig/debug.config) is made,
after the checks and the kmemleak scan, to commit one planted fault per
sanitizer it has: through lkdtm's debugfs trigger for KASAN and UBSAN, and
for kmemleak by loading samples/kmemleak's module, which leaks on purpose
(the debug config builds it, the only module of that kernel).  Each planted
fault must come back as a report of its sanitizer; the reports after the
first control marker belong to the controls, not to the run.

The guest (ci/guest/init.sh, ``run_controls``) gets the list in run.conf
(``L2WG_CONTROLS``, from :func:`planned`) and prints
``# l2wg: control NAME expects KIND`` before each and
``# l2wg: controls end`` after them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .distkernel import config_values
from .qemu import KernelReport

#: lkdtm crash type -> (the config option it needs, the report kind it must raise).
#: ARRAY_BOUNDS writes one byte past a fixed-size array inside its own
#: allocation: invisible to KASAN, an index out of bounds to UBSAN_BOUNDS.
LKDTM_CONTROLS: dict[str, tuple[str, str]] = {
    "READ_AFTER_FREE": ("CONFIG_KASAN", "KASAN"),
    "ARRAY_BOUNDS": ("CONFIG_UBSAN_BOUNDS", "UBSAN"),
}

#: control name -> (the module the build must have made, the report kind it must
#: raise).  kmemleak-test.ko's init kmallocs and vmallocs objects and drops
#: the pointers: kmemleak lists them only after several scans, so the guest
#: scans as it does for the run (ci/guest/init.sh, scan_kmemleak, plant_leak).
MODULE_CONTROLS: dict[str, tuple[str, str]] = {
    "KMEMLEAK": ("kmemleak-test.ko", "kmemleak"),
}

MARKER_RE = re.compile(r"# l2wg: control (?P<name>\S+) expects (?P<kind>\S+)")
END_MARKER = "# l2wg: controls end"


@dataclass
class Control:
    """One planted fault and the reports that followed it."""

    name: str
    expected: str
    line: int
    seen: list[KernelReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return any(r.kind == self.expected for r in self.seen)

    def describe(self) -> str:
        if self.ok:
            return f"{self.name}: {self.expected} report seen, so the scan sees one"
        kinds = ", ".join(sorted({r.kind for r in self.seen})) or "no report"
        return (f"positive control {self.name} (console line {self.line}) raised {kinds}, "
                f"not {self.expected}: this run's '0 {self.expected} reports' proves nothing")


def planned(config: Path, built_modules: Sequence[Path] = ()) -> list[tuple[str, str]]:
    """(control, expected report kind) for each sanitizer of the kernel whose
    ``.config`` is *config*: an lkdtm crash type when lkdtm is built in, a
    module control when the build made its module (*built_modules*)."""
    values = config_values(config) if config.is_file() else {}
    lkdtm = [(name, kind) for name, (option, kind) in LKDTM_CONTROLS.items()
             if values.get("CONFIG_LKDTM") == values.get(option) == "y"]
    made = {module.name for module in built_modules}
    return lkdtm + [(name, kind) for name, (module, kind) in MODULE_CONTROLS.items()
                    if module in made]


def run_conf_value(config: Path, built_modules: Sequence[Path] = ()) -> str:
    """``L2WG_CONTROLS`` for run.conf: ``NAME:KIND`` words."""
    return " ".join(f"{name}:{kind}" for name, kind in planned(config, built_modules))


def split(console_text: str, reports: list[KernelReport]
          ) -> tuple[list[KernelReport], list[Control]]:
    """(the reports of the run itself, the controls with the reports each
    raised).  Reports between the first control marker and the end marker
    are the controls'."""
    controls: list[Control] = []
    end = None
    for number, line in enumerate(console_text.splitlines(), start=1):
        if marker := MARKER_RE.search(line):
            controls.append(Control(marker["name"], marker["kind"], number))
        elif END_MARKER in line and controls:
            end = number
    if not controls:
        return list(reports), []
    own = [r for r in reports if r.line < controls[0].line or (end and r.line > end)]
    for control, following in zip(controls, controls[1:] + [None]):
        stop = following.line if following else end
        control.seen = [r for r in reports
                        if r.line > control.line and (stop is None or r.line < stop)]
    return own, controls


def errors(controls: list[Control], planned_controls: list[tuple[str, str]]) -> list[str]:
    """One line per control that failed or never ran."""
    ran = {c.name for c in controls}
    return ([c.describe() for c in controls if not c.ok]
            + [f"positive control {name} never ran (the guest stopped before it): "
               f"this run's '0 {kind} reports' proves nothing"
               for name, kind in planned_controls if name not in ran])
