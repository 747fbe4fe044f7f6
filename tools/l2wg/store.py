"""Atomic writes for everything l2wg keeps on disk, and reading records back.

Files are written under a temporary name beside their final place and
renamed when complete and verified, so an interrupted step never leaves a
file that a later run would take for a good one.  A record read back is
checked against its dataclass (``from_json``): a field that changed between
l2wg versions is a clear error, not a TypeError deep inside.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import threading
import types
import typing
from collections.abc import Iterator
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def write_json(path: Path, data: object) -> None:
    """Write *data* as JSON atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with staging_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> dict | None:
    """The JSON object at *path*, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


T = typing.TypeVar("T")


def from_json(cls: type[T], data: object, where: str = "") -> T:
    """*data* (parsed JSON) as the dataclass *cls*, nested dataclasses included,
    checked field by field: an unknown or missing field, or a value of the wrong
    type, raises ValueError naming it (``steps[0]: unknown field 'x'``)."""
    here = where or cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{here}: expected an object, found {_json_type(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [name for name in data if name not in fields]
    if unknown:
        raise ValueError(f"{here}: unknown field '{unknown[0]}'")
    missing = [name for name, f in fields.items() if name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{here}: missing field '{missing[0]}'")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _from_json(hints[name], value, f"{where}.{name}" if where else name)
                  for name, value in data.items()})


def _from_json(kind, value: object, where: str):
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        return from_json(kind, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        choices = [a for a in args if a is not type(None)]
        for choice in choices[:-1]:
            try:
                return _from_json(choice, value, where)
            except ValueError:
                pass
        return _from_json(choices[-1], value, where)
    if origin is list or kind is list:
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, found {_json_type(value)}")
        item = args[0] if args else typing.Any
        return [_from_json(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, found {_json_type(value)}")
        item = args[1] if args else typing.Any
        return {k: _from_json(item, v, f"{where}.{k}") for k, v in value.items()}
    if kind is typing.Any:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (str, int, float, bool):
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        raise ValueError(f"{where}: expected {kind.__name__}, found {_json_type(value)}")
    raise TypeError(f"{where}: from_json does not handle {kind!r}")


def _json_type(value: object) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
             str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


@contextlib.contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A temporary directory beside *final*, renamed over it on success.

    On failure the temporary directory is removed and *final* is untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old.{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staging_file(final: Path) -> Iterator[Path]:
    """A temporary file path beside *final*; renamed to *final* on success.

    The name is the process's and the thread's own: two writers of the same
    file (boots side by side making the same guest image) never share it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)


@contextlib.contextmanager
def scratch_dir(parent: Path) -> Iterator[Path]:
    """A temporary working directory under *parent* (same file system), always removed."""
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".scratch-", dir=parent) as tmp:
        yield Path(tmp)
