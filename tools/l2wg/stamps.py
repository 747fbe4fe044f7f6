"""Up-to-date checks: a stage whose inputs did not change is not run again.

A stage that succeeded leaves a stamp beside its outputs: a JSON file with
the digest of everything it read (tree commit, config fragments, images,
check scripts, toolchain ...) and a record of what it made.  The next run
computes the digest again; when it is the same and every output is still
there, the stage reuses the record instead of running.  Only successes are
stamped, so a failure is always tried again, and a changed input (one edited
patch, one edited check) invalidates exactly the stages that read it.

This is what keeps a warm ``l2wg ci`` short: kbuild already skips unchanged
objects, but configuring, packaging and booting would still take minutes.
``--rebuild`` (``l2wg ci``/``l2wg build``) ignores the stamps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import store

FORMAT = 1


def digest(inputs: dict) -> str:
    """A stable digest of a JSON-able description of a stage's inputs."""
    return store.sha256_text(json.dumps({"format": FORMAT, **inputs}, sort_keys=True,
                                        default=str))


def files_digest(paths: list[Path]) -> str:
    """The digest of files by name and content (a missing file counts as such)."""
    parts: list[str] = []
    for path in paths:
        parts.append(f"{path.name}:{store.sha256_file(path) if path.is_file() else 'missing'}")
    return store.sha256_text("\n".join(parts))


@dataclass(frozen=True)
class Stamp:
    """The stamp file of one stage's outputs."""

    path: Path

    def valid(self, key: str) -> dict | None:
        """The record saved with *key*, if *key* matches and every output still exists."""
        data = store.read_json(self.path)
        if not data or data.get("key") != key:
            return None
        outputs = [Path(p) for p in data.get("outputs", [])]
        if not all(p.exists() for p in outputs):
            return None
        return data.get("record") or {}

    def recorded(self) -> dict | None:
        """The record of the last success, whatever its inputs were, if every
        output still exists: what another stage reads of this one's outputs."""
        data = store.read_json(self.path)
        if not data or not all(Path(p).exists() for p in data.get("outputs", [])):
            return None
        return data.get("record") or {}

    def save(self, key: str, record: dict, outputs: list[Path]) -> None:
        store.write_json(self.path, {"key": key, "record": record,
                                     "outputs": [str(p) for p in outputs]})

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
