"""l2wg.git: the one way l2wg runs git, logged like every other command."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from l2wg import git
from l2wg.errors import L2wgError

LIBRARY = Path(__file__).resolve().parents[1] / "tools" / "l2wg"


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "a.txt").write_text("a\n")
    return path


def test_a_command_and_its_output_are_logged(repo, tmp_path):
    log = tmp_path / "git.log"
    git.git(repo, "add", "a.txt", log=log)
    git.git(repo, "commit", "-q", "-m", "first", log=log)
    head = git.git(repo, "rev-parse", "HEAD", log=log).strip()

    text = log.read_text()
    assert f"$ {' '.join(f'{k}={v}' for k, v in git.IDENTITY.items())} git -C {repo} commit " \
           "-q -m first\n" in text
    assert f"git -C {repo} rev-parse HEAD\n{head}\n# exit 0 after " in text
    # git() commits as l2wg, at l2wg's fixed date: the same commit every time.
    author = git.git(repo, "log", "-1", "--format=%an <%ae> %aI", log=log).strip()
    assert author == "l2wg <l2wg@l2wg.invalid> 2000-01-01T00:00:00+00:00"


def test_run_git_leaves_the_identity_to_the_caller(repo, tmp_path):
    log = tmp_path / "git.log"
    done = git.run_git(repo, "var", "GIT_AUTHOR_IDENT", log=log, check=False,
                       env={"GIT_AUTHOR_NAME": "Someone", "GIT_AUTHOR_EMAIL": "s@example.org"})
    assert done.output.startswith("Someone <s@example.org> ")
    assert "GIT_COMMITTER_NAME" not in log.read_text()
    cloned = tmp_path / "clone"
    git.run_git(None, "clone", "-q", repo, cloned, log=log, check=False)
    assert f"$ git clone -q {repo} {cloned}\n" in log.read_text()


def test_a_failure_is_one_line_naming_the_subcommand_and_the_log(repo, tmp_path):
    log = tmp_path / "git.log"
    with pytest.raises(L2wgError, match=r"^git rev-parse failed \(exit 128\): fatal: .* "
                                        r"\(log: .*git\.log\)$") as info:
        git.run_git(repo, "-c", "core.quotePath=false", "rev-parse", "--verify", "no-such-ref",
                    log=log)
    assert "\n" not in str(info.value)
    assert git.run_git(repo, "rev-parse", "--verify", "no-such-ref", log=log,
                       check=False).returncode == 128


@pytest.mark.parametrize("args, name", [
    (("am", "-3", "x.patch"), "am"),
    (("-c", "merge.conflictStyle=diff3", "am", "-3"), "am"),
    (("--no-pager", "log"), "log"),
])
def test_the_subcommand_names_the_command_in_errors(args, name):
    assert git.subcommand(args) == name


def test_git_runs_nowhere_else():
    """Every git command goes through l2wg.git: no GitPython, no run(["git", ...])."""
    offenders = []
    for path in sorted(LIBRARY.rglob("*.py")):
        if path == LIBRARY / "git.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""]
                if any(n == "git" or n.startswith("git.") for n in names) and \
                        not getattr(node, "level", 0):
                    offenders.append(f"{path.name}:{node.lineno}: imports GitPython")
            elif isinstance(node, ast.List) and node.elts and \
                    isinstance(node.elts[0], ast.Constant) and node.elts[0].value == "git":
                offenders.append(f"{path.name}:{node.lineno}: runs git itself")
    assert offenders == []
