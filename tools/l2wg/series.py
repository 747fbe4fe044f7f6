"""The patch series in ``patches/``: quilt layout, with per-line overrides.

``patches/series`` lists the canonical patch files in order (one per line,
``#`` starts a comment, quilt's ``-p1`` is accepted).  A kernel line that
needs its own variant of a patch keeps it as ``patches/<line>/<same name>``,
e.g. ``patches/6.1/0003-wireguard-....patch``; everywhere else the
canonical file is used, so a reader sees every override at a glance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import store
from .errors import BadInput


@dataclass(frozen=True)
class Patch:
    name: str
    path: Path
    override: bool = False

    @property
    def subject(self) -> str:
        """The Subject: line of the patch, without the [PATCH] prefix."""
        text = self.path.read_text(errors="replace")
        match = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", text, re.M)
        if not match:
            return self.name
        subject = re.sub(r"\s*\n[ \t]+", " ", match.group(1))
        return re.sub(r"^\[[^]]*\]\s*", "", subject)


@dataclass(frozen=True)
class Series:
    dir: Path
    names: tuple[str, ...]

    def patches(self, line: str | None = None) -> list[Patch]:
        """The patches to apply to a kernel of *line* (e.g. '6.1'), overrides
        resolved; each checked by :func:`check_hunks`."""
        result = []
        for name in self.names:
            override = self.dir / line / name if line else None
            if override and override.is_file():
                result.append(Patch(name, override, True))
            else:
                result.append(Patch(name, self.dir / name))
            check_hunks(result[-1].path)
        return result

    def overrides(self) -> dict[str, list[str]]:
        """Per kernel line, the patch names it overrides."""
        found: dict[str, list[str]] = {}
        for sub in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            names = [n for n in self.names if (sub / n).is_file()]
            if names:
                found[sub.name] = names
        return found

    def digest(self, line: str | None = None) -> str:
        """A hash of exactly what would be applied to *line*: names and contents."""
        parts: list[str | bytes] = []
        for patch in self.patches(line):
            parts += [patch.name, patch.path.read_bytes()]
        return store.sha256_text(*parts)


HUNK_HEADER = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def check_hunks(path: Path) -> None:
    """Every changed or context line of the patch at *path* lies inside a
    hunk.  A hand-edited hunk whose ``@@`` line counts too few lines leaves
    its last lines outside; git apply and git am take them for trailing
    junk and drop them without a word, and a rebase would then write the
    patch back without them."""
    old = new = 0
    in_diff = False
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if line == "-- ":
            return                              # the signature: the patch has ended
        if old > 0 or new > 0:                  # inside a hunk
            if line.startswith("\\"):
                continue                        # "\ No newline at end of file"
            kind = line[:1] or " "
            old -= kind in " -"
            new -= kind in " +"
            continue
        if line.startswith("diff --git "):
            in_diff = True
        elif (header := HUNK_HEADER.match(line)) and in_diff:
            old, new = (int(n) if n is not None else 1 for n in header.groups())
        elif in_diff and line[:1] in ("+", "-", " ") and not line.startswith(("+++ ", "--- ")):
            raise BadInput(f"{path}:{lineno}: this line is outside every hunk (does the @@ "
                           f"line before it count too few lines?): {line[:60]!r}")


def load_series(patches_dir: Path) -> Series:
    """Read ``patches/series``; every listed file must exist.  No series file: empty series."""
    patches_dir = Path(patches_dir)
    series_file = patches_dir / "series"
    if not series_file.exists():
        return Series(patches_dir, ())
    names = []
    for lineno, raw in enumerate(series_file.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *options = line.split()
        if any(opt != "-p1" for opt in options):
            raise BadInput(f"{series_file}:{lineno}: unsupported option(s) {' '.join(options)} "
                            "(only -p1 is supported)")
        if not (patches_dir / name).is_file():
            raise BadInput(f"{series_file}:{lineno}: patch file {name} does not exist")
        if name in names:
            raise BadInput(f"{series_file}:{lineno}: {name} is listed twice")
        names.append(name)
    return Series(patches_dir, tuple(names))


def write_series(patches_dir: Path, names: list[str], header: str = "") -> None:
    """Write ``patches/series`` listing *names* (atomically)."""
    series_file = patches_dir / "series"
    with store.staging_file(series_file) as tmp:
        tmp.write_text(header + "".join(f"{n}\n" for n in names))
