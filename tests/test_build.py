"""Builds: warning counting (unit) and real out-of-tree builds of the Debian
6.12 and 6.1 kernels with the series applied (integration)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from l2wg import build as builds
from l2wg.build import BuildOptions, count_warnings
from l2wg.errors import L2wgError
from l2wg.kconfig import read_config
from l2wg.progress import silent

from conftest import BUILT_KERNELS

LOG = """\
  CC      drivers/net/wireguard/device.o
/work/t/drivers/net/wireguard/device.c:12:5: warning: no previous prototype for 'x' [-Wmissing-prototypes]
drivers/net/wireguard/device.c:12:5: warning: no previous prototype for 'x' [-Wmissing-prototypes]
drivers/net/wireguard/l2.c:40: warning: Function parameter or struct member 'peer' not described
net/core/dev.c:1:1: warning: something else
  CC      net/core/dev.o
"""


def test_warnings_are_counted_and_wireguard_ones_kept():
    total, wireguard = count_warnings(LOG)
    assert total == 4
    assert sorted((w.file, w.line) for w in wireguard) == [
        ("/work/t/drivers/net/wireguard/device.c", 12),
        ("drivers/net/wireguard/device.c", 12),
        ("drivers/net/wireguard/l2.c", 40)]


def test_make_command_follows_kbuild_conventions(project, ws, tmp_path):
    kernel = project.matrix().get("6.12")
    opts = BuildOptions(jobs=7, llvm=True, make_vars=("W=1",))
    cmd = builds.make_command(tmp_path / "src", tmp_path / "o", kernel, opts, use_ccache=True)
    assert cmd[:3] == ["make", "-C", str(tmp_path / "src")]
    assert {f"O={tmp_path / 'o'}", "ARCH=x86_64", "-j7", "LLVM=1", "CC=ccache clang",
            "CCACHE_DEPEND=1", "W=1"} <= set(cmd)
    assert builds.build_dir_for(kernel, opts, ws).name == "6.12-x86_64-default-llvm"


MODULES_MAKEFILE = """\
modules:
\tmkdir -p samples/kmemleak
\techo ko > samples/kmemleak/kmemleak-test.ko
\tprintf '%s\\n' samples/kmemleak/kmemleak-test.o $(EXTRA) > modules.order
"""


def test_a_modular_config_makes_modules_and_keeps_each_one_it_lists(tmp_path):
    (tmp_path / "Makefile").write_text(MODULES_MAKEFILE)
    (tmp_path / ".config").write_text("# CONFIG_MODULES is not set\n")
    log, make = tmp_path / "build.log", ["make", "-s", "-C", str(tmp_path)]
    assert builds.make_modules("7.3", tmp_path, make, log, silent()) == []
    assert not (tmp_path / "modules.order").exists()          # make was not run
    (tmp_path / ".config").write_text("CONFIG_MODULES=y\n")
    assert builds.make_modules("7.3", tmp_path, make, log, silent()) == [
        tmp_path / "samples/kmemleak/kmemleak-test.ko"]
    with pytest.raises(L2wgError, match="did not build: .*/gone.ko"):
        builds.make_modules("7.3", tmp_path, [*make, "EXTRA=gone.o"], log, silent())


@pytest.mark.integration
@pytest.mark.parametrize("name", [p for p in BUILT_KERNELS if p.id in ("6.12", "6.1")])
def test_real_build_leaves_artifacts_and_metadata(project, real_ws, name):
    kernel = project.matrix().get(name)
    series = project.series()
    result = builds.build(kernel, project, real_ws, BuildOptions(), silent())
    out = real_ws.artifacts(name)
    for artifact in ("bzImage", "config", "build.log", "metadata.json"):
        assert (out / artifact).is_file(), artifact
    meta = builds.load_result(out)
    assert meta["kernel"] == name and meta["version"].startswith(kernel.version)
    assert meta["series"] == list(series.names)
    assert meta["series_digest"] == series.digest(kernel.line)
    assert meta["wireguard_warnings"] == []
    assert set(meta["durations"]) == {"source", "tree", "series", "config", "build"}
    assert meta["reproduce"][-1].endswith("bzImage")
    config = read_config(out / "config")
    for symbol in ("64BIT", "WIREGUARD", "WIREGUARD_DEBUG", "BRIDGE", "VLAN_8021Q", "PPPOE",
                   "VETH", "PACKET", "IPV6", "NET_NS"):
        assert config.get(symbol) == "y", symbol
    assert result.config_sha256 == meta["config_sha256"]


@pytest.mark.integration
@pytest.mark.builds("6.12")
def test_failed_build_names_its_log_and_keeps_previous_artifacts(project, real_ws, tmp_path):
    kernel = project.matrix().get("6.12")
    out = real_ws.artifacts("6.12")
    if not (out / "metadata.json").exists():
        builds.build(kernel, project, real_ws, BuildOptions(), silent())
    before = (out / "metadata.json").read_text()
    opts = dataclasses.replace(BuildOptions(), target="l2wg-no-such-target")
    with pytest.raises(L2wgError, match="make l2wg-no-such-target failed") as err:
        builds.build(kernel, project, real_ws, opts, silent())
    assert err.value.log and err.value.log.name == "build.log"
    assert "No rule to make target" in err.value.log.read_text()
    assert (out / "metadata.json").read_text() == before


@pytest.mark.integration
@pytest.mark.builds("6.12")
def test_unchanged_build_is_up_to_date_and_rebuild_makes_anyway(project, real_ws):
    kernel = project.matrix().get("6.12")
    first = builds.build(kernel, project, real_ws, BuildOptions(), silent())
    again = builds.build(kernel, project, real_ws, BuildOptions(), silent())
    assert again.extra.get("up_to_date") is True
    assert (again.tree_head, again.config_sha256) == (first.tree_head, first.config_sha256)
    forced = builds.build(kernel, project, real_ws, BuildOptions(rebuild=True), silent())
    assert not forced.extra.get("up_to_date")
    assert set(forced.durations) == {"source", "tree", "series", "config", "build"}
    # A changed input (here the toolchain-independent make variables) is not up to date,
    # but the .config, whose inputs did not change, is not made again; and make, with
    # the same build identity, leaves the image as it was.
    config = Path(forced.build_dir) / ".config"
    made_at = config.stat().st_mtime_ns
    changed = builds.build(kernel, project, real_ws, BuildOptions(make_vars=("KCFLAGS=",)),
                           silent())
    assert not changed.extra.get("up_to_date")
    assert config.stat().st_mtime_ns == made_at
    assert changed.config_sha256 == forced.config_sha256
    assert (Path(changed.out) / "bzImage").read_bytes() == \
        (Path(forced.out) / "bzImage").read_bytes()


def test_build_identity_is_fixed_by_the_tree_commit(tmp_path):
    """uname -v must not change between make runs, or bindeb-pkg relinks the kernel."""
    import subprocess

    repo = tmp_path / "tree"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "Makefile").write_text("all:\n")
    subprocess.run([*git, "add", "."], check=True)
    env = {"GIT_COMMITTER_DATE": "Mon, 2 Mar 2026 10:00:00 +0000", "PATH": "/usr/bin:/bin"}
    subprocess.run([*git, "commit", "-qm", "x"], check=True, env=env)
    identity = builds.build_identity(repo)
    assert identity == ["KBUILD_BUILD_VERSION=1",
                        "KBUILD_BUILD_TIMESTAMP=Mon, 2 Mar 2026 10:00:00 +0000"]
    assert builds.build_identity(repo) == identity
    assert builds.build_identity(tmp_path) == ["KBUILD_BUILD_VERSION=1"]   # not a git tree
