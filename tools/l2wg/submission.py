"""What the repository keeps of the submission, in ``patches/submission/``
(``load_series`` ignores it: it holds no file named like a patch of the series):

    cover-letter.txt   subject line, blank line, body, then the per-version
                       changelog ("Changes in v2: ..."); "#" lines are comments
    b4.json            the series name, b4 change-id, subject prefixes, and
                       one record per revision that was really sent
    vN/                the patches exactly as revision N was sent, so that
                       revision N+1 carries a range-diff against it

b4.json carries a ``format`` number (files from before it had one have the
same layout, format 1); it is checked field by field when read, and a file
l2wg cannot use is one line naming the field, never a traceback.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import store
from .errors import L2wgError
from .project import Project

SUBMISSION_DIR = "submission"
COVER_LETTER = "cover-letter.txt"
RECORD = "b4.json"
DEFAULT_NAME = "l2wireguard"
DEFAULT_PREFIXES = ("net-next",)
LORE_LINK = "https://lore.kernel.org/r/{}"
#: The layout of b4.json (a file without "format" has this layout too).
RECORD_FORMAT = 1
RECORD_KEYS = ("format", "name", "change-id", "prefixes", "sent")


@dataclass(frozen=True)
class SentRevision:
    """One revision that was really mailed."""

    revision: int
    kernel: str
    base_commit: str
    message_id: str
    date: str


@dataclass
class Record:
    """``patches/submission/b4.json``: the series identity and its sent revisions."""

    name: str
    change_id: str
    prefixes: list[str]
    sent: dict[int, SentRevision] = field(default_factory=dict)

    @property
    def next_revision(self) -> int:
        return max(self.sent, default=0) + 1

    def to_json(self) -> dict:
        return {"format": RECORD_FORMAT, "name": self.name, "change-id": self.change_id,
                "prefixes": self.prefixes,
                "sent": {f"v{n}": asdict(s) for n, s in sorted(self.sent.items())}}

    @classmethod
    def from_json(cls, data: dict) -> "Record":
        """The record in *data* (b4.json), checked: ValueError names what does not fit."""
        found = data.get("format", RECORD_FORMAT)
        if found != RECORD_FORMAT:
            age = ("another" if not isinstance(found, int) else
                   "an older" if found < RECORD_FORMAT else "a newer")
            raise ValueError(f"written by {age} l2wg (format {found!r}, this l2wg reads "
                             f"{RECORD_FORMAT})")
        unknown = [key for key in data if key not in RECORD_KEYS]
        if unknown:
            raise ValueError(f"unknown field '{unknown[0]}'")
        change_id, name = data.get("change-id"), data.get("name", DEFAULT_NAME)
        prefixes = data.get("prefixes", list(DEFAULT_PREFIXES))
        if not isinstance(change_id, str) or not change_id:
            raise ValueError("no change-id")
        if not isinstance(name, str):
            raise ValueError("name: expected a string")
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise ValueError("prefixes: expected a list of strings")
        sent_data = data.get("sent") or {}
        if not isinstance(sent_data, dict):
            raise ValueError("sent: expected an object")
        sent = {}
        for key, value in sent_data.items():
            entry = store.from_json(SentRevision, value, f"sent.{key}")
            if key != f"v{entry.revision}":
                raise ValueError(f"sent.{key}: holds revision {entry.revision}")
            sent[entry.revision] = entry
        return cls(name, change_id, list(prefixes), sent)


@dataclass(frozen=True)
class Submission:
    """The repository's side of a submission: ``patches/submission/``."""

    dir: Path

    @classmethod
    def of(cls, project: Project) -> "Submission":
        return cls(project.patches / SUBMISSION_DIR)

    @property
    def cover_path(self) -> Path:
        return self.dir / COVER_LETTER

    @property
    def record_path(self) -> Path:
        return self.dir / RECORD

    def sent_patches(self, revision: int) -> Path:
        return self.dir / f"v{revision}"

    def cover_text(self) -> str:
        if not self.cover_path.is_file():
            raise L2wgError(f"no cover letter: write {self.cover_path} (subject line, blank "
                            "line, body, then 'Changes in vN:' sections)")
        return self.cover_path.read_text()

    def record(self) -> Record:
        """The record, or a fresh one (new change-id) when the file does not exist yet.

        A fresh record is saved by the first run that succeeds, so that every
        later run and revision keeps its change-id.
        """
        if not self.record_path.is_file():
            return new_record(DEFAULT_NAME)
        try:
            data = json.loads(self.record_path.read_text())
            if not isinstance(data, dict):
                raise ValueError("corrupt, not a JSON object")
            return Record.from_json(data)
        except OSError as error:
            problem = f"unreadable ({error.strerror})"
        except json.JSONDecodeError as error:
            problem = f"corrupt, not JSON ({error})"
        except ValueError as error:
            problem = f"not a submission record ({error})"
        raise L2wgError(f"{self.record_path}: {problem}; it keeps the change-id and the "
                        "revisions mailed: fix it, or restore it from git")

    def save_record(self, record: Record) -> None:
        store.write_json(self.record_path, record.to_json())


def new_record(name: str) -> Record:
    """A record with a fresh b4-style change-id: DATE-NAME-RANDOM."""
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    return Record(name, f"{today}-{name}-{uuid.uuid4().hex[:12]}", list(DEFAULT_PREFIXES))


# cover letter ----------------------------------------------------------------

def cover_letter(text: str, record: Record, revision: int, path: Path) -> str:
    """The cover text for vN: the file minus comments, with links to the earlier versions."""
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    cover = "\n".join(lines).strip() + "\n"
    subject = cover.splitlines()[0].strip() if cover.strip() else ""
    if not subject or "EDITME" in cover:
        raise L2wgError(f"{path}: the cover letter needs a subject line and no EDITME left")
    for n in range(2, revision + 1):
        if not re.search(rf"^Changes in v{n}:", cover, re.M | re.I):
            raise L2wgError(f"{path}: no 'Changes in v{n}:' section: describe what changed "
                            f"since v{n - 1}")
    for sent in sorted(record.sent.values(), key=lambda s: s.revision):
        if sent.revision < revision and sent.message_id not in cover:
            cover = add_link(cover, sent)
    return cover


def add_link(cover: str, sent: SentRevision) -> str:
    """Append '- Link to vK: lore URL' to the 'Changes in vK+1:' list, as b4 does."""
    link = f"- Link to v{sent.revision}: {LORE_LINK.format(sent.message_id)}"
    lines = cover.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^Changes in v{sent.revision + 1}:", line, re.I):
            end = i + 1
            while end < len(lines) and lines[end].strip():
                end += 1
            lines.insert(end, link)
            return "\n".join(lines) + "\n"
    return cover
