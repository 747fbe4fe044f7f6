"""Test-only peers (testpatch.py): the DKMS guest with a ci/test-patches/ patch in
its module, as ``l2wg interop dkms:K+PATCH`` names it.  The real module build in
the suite's chroot and the real pair are in tests/test_packages.py (integration)."""

import json
from pathlib import Path

import pytest

from l2wg import interop, testpatch
from l2wg.errors import BadInput, BuildError, L2wgError
from l2wg.workspace import Workspace

FUTURE = testpatch.find("future-format")


def old_side(patch: Path) -> str:
    """A file that holds the old side of every hunk of *patch*, in order, with
    other lines between them: what the patch was made against, as far as it says."""
    lines, hunks = [], patch.read_text().split("\n@@ ")[1:]
    for hunk in hunks:
        lines += ["/* other code */"] * 5
        for line in hunk.splitlines()[1:]:
            if line[:1] in (" ", "-"):
                lines.append(line[1:])
            elif line.startswith("+") or not line:
                continue
            else:
                break
    return "\n".join(lines + ["/* the end */"]) + "\n"


def dkms_source(tmp_path: Path, l2_frame: str) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "Makefile").write_text("obj-m := wireguard.o\n")
    (source / "l2_frame.c").write_text(l2_frame)
    return source


def test_the_test_patches_are_listed_and_an_unknown_one_names_them():
    assert {"future-format", "reserved-ignored"} <= set(testpatch.available())
    assert FUTURE.path.name == "future-format.patch" and FUTURE.path.is_file()
    with pytest.raises(BadInput, match=r"no test patch 'nope' in .*\(there are: .*future-format"):
        testpatch.find("nope")


def test_future_format_sets_the_flag_on_send_and_accepts_it_on_receive(tmp_path):
    source = dkms_source(tmp_path, old_side(FUTURE.path))
    log = tmp_path / "test.log"
    patched = testpatch.patched_source(source, FUTURE, tmp_path / "patched", log)
    text = (patched / "l2_frame.c").read_text()
    assert "header->reserved_zero = L2_FUTURE_FLAG;" in text
    assert "header->reserved_zero & ~L2_FUTURE_FLAG))" in text
    assert "header->reserved_zero = 0;" not in text
    assert (source / "l2_frame.c").read_text() == old_side(FUTURE.path)   # the source untouched
    assert "patch -p4 " in log.read_text()                               # the command, logged


def test_reserved_ignored_drops_the_reserved_byte_check_only(tmp_path):
    control = testpatch.find("reserved-ignored")
    source = dkms_source(tmp_path, old_side(control.path))
    patched = testpatch.patched_source(source, control, tmp_path / "patched", tmp_path / "log")
    text = (patched / "l2_frame.c").read_text()
    assert "if (unlikely(header->type != MESSAGE_L2_FRAME))" in text
    assert "reserved_zero))" not in text


def test_a_test_patch_that_does_not_apply_leaves_nothing_behind(tmp_path):
    source = dkms_source(tmp_path, "int unrelated;\n")
    with pytest.raises(BuildError, match=r"future-format.patch does not apply to the DKMS "
                                         r"source"):
        testpatch.patched_source(source, FUTURE, tmp_path / "patched", tmp_path / "test.log")
    assert not (tmp_path / "patched").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".patched")] == []


def test_the_patched_guest_is_the_dkms_guest_with_another_wireguard_ko(tmp_path):
    from debian_kernel import dkms_guest

    base = dkms_guest(tmp_path / "dkms")
    module = tmp_path / "wireguard.ko"
    module.write_bytes(b"\x7fELF patched module")
    target = tmp_path / "test-future-format" / "boot"
    testpatch.lay_out(base, module, FUTURE, target)
    meta = json.loads((target / "metadata.json").read_text())
    base_meta = json.loads((base / "metadata.json").read_text())
    assert meta["modules"] == base_meta["modules"] and meta["test_patch"] == "future-format"
    assert meta["source"].endswith("+ test patch future-format.patch")
    assert (target / "modules" / "wireguard.ko").read_bytes() == b"\x7fELF patched module"
    assert (base / "modules" / "wireguard.ko").read_bytes() != b"\x7fELF patched module"
    assert (target / "bzImage").read_bytes() == (base / "bzImage").read_bytes()


def test_a_test_patch_goes_with_a_dkms_guest_only(project, tmp_path):
    ws = Workspace(tmp_path / "ws")
    matrix = project.matrix()
    with pytest.raises(BadInput, match=r"7.3\+future-format: a test patch goes with a DKMS "
                                       r"guest only \(dkms:K\+future-format\)"):
        interop.find_guest("a", "7.3+future-format", matrix, ws)
    with pytest.raises(BadInput, match="no test patch 'nope'"):
        interop.find_pair(ws, matrix, "dkms:7.3", "dkms:7.3+nope")
    with pytest.raises(L2wgError, match=r"no DKMS build of 7.3 \(run: l2wg dkms 7.3\)"):
        interop.find_guest("b", "dkms:7.3+future-format", matrix, ws)
    guest = interop.Guest("b", "dkms:7.3+future-format", None)
    assert guest.remake == "l2wg dkms 7.3" and guest.test_patch == "future-format"
    assert interop.Guest("a", "dkms:7.3", None).test_patch == ""
    assert guest.label == "b:dkms:7.3+future-format"


def test_a_test_patched_pair_runs_topology_and_the_patch_s_check():
    assert [c.name for c in interop.select(None, ["future-format"])] == ["topology",
                                                                        "future-format"]
    assert [c.name for c in interop.select(["ping"], ["future-format"])] == ["topology", "ping"]
    # the control pair: only future-format has a check of its name
    assert [c.name for c in interop.select(None, ["reserved-ignored", "future-format"])] == \
        ["topology", "future-format"]
    with pytest.raises(BadInput, match="no interop check is named after test patch"):
        interop.select(None, ["reserved-ignored"])

