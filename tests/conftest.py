"""Shared fixtures.

Unit tests use a temporary workspace.  Integration tests (``-m integration``)
use the real workspace ($L2WG_HOME, default ~/.cache/l2wg) so that sources,
trees and builds are shared with the main job and reused between runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from l2wg.progress import silent  # noqa: E402
from l2wg.project import Project  # noqa: E402
from l2wg.workspace import Workspace  # noqa: E402


@pytest.fixture
def project() -> Project:
    return Project(ROOT)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def real_ws() -> Workspace:
    return Workspace.default()


@pytest.fixture
def quiet():
    return silent()
