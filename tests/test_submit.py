"""l2wg submit: the messages b4 writes, the checks that guard them, v1 -> v2.

The unit tests run on a synthetic kernel tree (tests/data/submit/tree): a
fake drivers/net/wireguard and a small MAINTAINERS, with small stand-ins for
the kernel's checkpatch.pl, get_maintainer.pl and merge_config.sh
(tests/data/submit/stand-in).  Its Makefile answers kbuild's targets
(tinyconfig, olddefconfig, a directory) so the build check runs for real, in
seconds.  The tests whose point is what the kernel's own scripts say run
again as integration tests (``[kernel]``) on the same tree with the real
scripts, from the verified linux-source-6.12 in the workspace
(tests/kernel_files.py).
Git and b4 see a private identity and config (GIT_CONFIG_GLOBAL).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from kernel_files import kernel_files

from l2wg import cli, submission
from l2wg import submit as sub
from l2wg.errors import L2wgError
from l2wg.progress import silent
from l2wg.project import Project
from l2wg.store import sha256_text

TREE = Path(__file__).parent / "data" / "submit" / "tree"
STAND_IN = Path(__file__).parent / "data" / "submit" / "stand-in"
# checkpatch.pl and get_maintainer.pl only run at the top of a kernel tree,
# which they recognise by these directories (see top_of_kernel_tree()).
TOP_DIRS = ("Documentation", "arch", "include", "fs", "init", "ipc", "kernel", "lib")
CHANGE_ID = "20261122-l2wireguard-0123456789ab"
ME = ("Test Submitter", "submitter@example.org")
AUTHOR = ("Patch Author", "author@example.org")
COVER = """\
wireguard: add a layer-2 (Ethernet) mode

# Comments like this one stay out of the mail.
This series lets a WireGuard interface carry Ethernet frames.
"""
MAIN_C = (TREE / "drivers/net/wireguard/main.c").read_text()
WG_C = "drivers/net/wireguard/main.c"


def main_c(mode: str) -> str:
    """The synthetic driver with its mode initialised to *mode*."""
    return MAIN_C.replace("int wg_mode;", f"int wg_mode = {mode};")


def git(repo: Path, *args: str, **kw) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, text=True,
                          capture_output=True, **kw).stdout


@pytest.fixture(autouse=True)
def private_git(tmp_path, monkeypatch):
    """A git/b4 configuration of our own: identity, no system config, own caches."""
    config = tmp_path / "gitconfig"
    config.write_text(f"[user]\n\tname = {ME[0]}\n\temail = {ME[1]}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return config


@pytest.fixture(scope="session")
def real_kernel_files(real_ws) -> Path:
    """checkpatch.pl and the other scripts, from the real 6.12 source."""
    return kernel_files(Project(Path(__file__).resolve().parents[1]), real_ws)


@pytest.fixture
def kernel_scripts(request) -> Path:
    """The kernel's scripts the synthetic tree gets: the stand-ins, or with the
    parameter "kernel" (integration tests only) the real ones."""
    if getattr(request, "param", "stand-in") == "stand-in":
        return STAND_IN
    return request.getfixturevalue("real_kernel_files")


#: A test that runs with the stand-ins, and again with the kernel's own scripts.
BOTH_SCRIPTS = pytest.mark.parametrize(
    "kernel_scripts", ["stand-in", pytest.param("kernel", marks=pytest.mark.integration)],
    indirect=True)


@pytest.fixture
def kernel_src(tmp_path, kernel_scripts) -> Path:
    src = tmp_path / "linux"
    shutil.copytree(TREE, src)
    shutil.copytree(kernel_scripts, src, dirs_exist_ok=True)
    for name in TOP_DIRS:
        (src / name).mkdir()
        (src / name / "README").write_text(f"{name} of the synthetic tree\n")
    return src


@pytest.fixture
def project(tmp_path, kernel_src) -> Project:
    root = tmp_path / "project"
    (root / "ci" / "kconfig").mkdir(parents=True)
    (root / "ci" / "kconfig" / "wg.config").write_text("CONFIG_WIREGUARD=y\n")
    (root / "kernels.toml").write_text(
        'default = "synthetic"\n[kernels.synthetic]\nversion = "6.12"\n'
        f'source = {{ type = "local", path = "{kernel_src}" }}\nfragments = ["wg"]\n')
    submission = root / "patches" / "submission"
    submission.mkdir(parents=True)
    (submission / "cover-letter.txt").write_text(COVER)
    (submission / "b4.json").write_text(json.dumps(
        {"name": "l2wireguard", "change-id": CHANGE_ID, "prefixes": ["net-next"], "sent": {}}))
    return Project(root)


def write_series(project: Project, base: Path, commits: list[dict]) -> list[str]:
    """git format-patch the *commits* (subject, body, files, author, signoff) on the files
    of *base* into patches/, and list them in patches/series."""
    work = project.root.parent / "patch-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    for c in commits:
        for name, text in c["files"].items():
            (work / name).write_text(text)
        author = c.get("author", AUTHOR)
        trailers = "" if c.get("signoff") is False else \
            f"\n\nSigned-off-by: {author[0]} <{author[1]}>" + \
            ("" if author == ME else f"\nSigned-off-by: {ME[0]} <{ME[1]}>")
        git(work, "add", "-A")
        git(work, "commit", "-q", f"--author={author[0]} <{author[1]}>",
            "-m", c["subject"], "-m", c["body"] + trailers)
    patches = project.patches
    patches.mkdir(exist_ok=True)
    for old in patches.glob("*.patch"):
        old.unlink()
    git(work, "format-patch", "-q", "--zero-commit", "-o", str(patches), "HEAD~%d" % len(commits))
    names = sorted(p.name for p in patches.glob("*.patch"))
    (patches / "series").write_text("".join(f"{n}\n" for n in names))
    return names


L2_H = ("/* SPDX-License-Identifier: GPL-2.0 */\n/* The layer-2 mode. */\n\n"
        "int wg_l2_enabled(void);\n")
L2_C = ("// SPDX-License-Identifier: GPL-2.0\n/* The layer-2 mode. */\n\n#include \"l2.h\"\n\n"
        "int wg_l2_enabled(void)\n{\n\treturn 1;\n}\n")


# A first patch that builds cleanly, for series whose second patch is the point.
EXPLICIT_MODE = {"subject": "wireguard: start in layer-3 mode explicitly",
                 "body": "Give the mode an explicit initial value.",
                 "files": {WG_C: main_c("1")}}


def good_series(project: Project, kernel_src: Path, mode: str = "2") -> list[str]:
    return write_series(project, kernel_src, [
        {"subject": "wireguard: start in layer-3 mode explicitly",
         "body": "Give the mode an explicit initial value, so that the next patch\n"
                 "can add a second one.",
         "files": {WG_C: main_c("1")}},
        {"subject": "wireguard: add a layer-2 mode",
         "body": "Frames of the layer-2 mode carry a whole Ethernet header.",
         "files": {WG_C: main_c(mode),
                   "drivers/net/wireguard/l2.h": L2_H,
                   "drivers/net/wireguard/l2.c": L2_C}},
    ])


def patches_digest(project: Project) -> str:
    files = sorted(p for p in project.patches.rglob("*") if p.is_file())
    return sha256_text(*(str(p) for p in files), *(p.read_bytes() for p in files))


def options(tmp_path: Path, **kw) -> sub.SubmitOptions:
    """Unit tests build the synthetic tree: no need to wait for real kernel builds."""
    return sub.SubmitOptions(**{"kbuild_lock": tmp_path / "kbuild.lock", "jobs": 1, **kw})


def fake_sendmail(tmp_path: Path, config: Path, reflect: bool = False) -> Path:
    """A sendmail that keeps every message, and its envelope recipients, in a spool."""
    spool = tmp_path / "spool"
    spool.mkdir()
    script = tmp_path / "sendmail"
    script.write_text(f'#!/bin/sh\nf=$(mktemp -p {spool} msg.XXXXXX)\n'
                      'echo "$*" > "$f.rcpt"\ncat > "$f"\n')
    script.chmod(0o755)
    with open(config, "a") as f:
        f.write(f"[sendemail]\n\tsmtpserver = {script}\n")
        if reflect:   # b4 reflects through a local command only when told it is safe
            f.write(f"\tb4-really-reflect-via = {script}\n")
    return spool


def envelopes(spool: Path) -> list[str]:
    return sorted(p.read_text() for p in spool.glob("*.rcpt"))


# the messages ---------------------------------------------------------------------

@BOTH_SCRIPTS
def test_v1_messages_are_numbered_addressed_signed_and_based(project, kernel_src, ws, quiet,
                                                             tmp_path):
    good_series(project, kernel_src)
    before = patches_digest(project)

    result = sub.submit(project, ws, options(tmp_path), quiet)

    assert result.revision == 1 and result.built == 2 and not result.mailed
    assert [m.path.name for m in result.messages] == [
        "0000-wireguard-add-a-layer-2-ethernet-mode.eml",
        "0001-wireguard-start-in-layer-3-mode-explicitly.eml",
        "0002-wireguard-add-a-layer-2-mode.eml"]
    assert [m.subject for m in result.messages] == [
        "[PATCH net-next 0/2] wireguard: add a layer-2 (Ethernet) mode",
        "[PATCH net-next 1/2] wireguard: start in layer-3 mode explicitly",
        "[PATCH net-next 2/2] wireguard: add a layer-2 mode"]
    for message in result.messages:
        # get_maintainer.pl: the maintainers in To:, the lists in Cc:
        assert {"Jason@zx2c4.com", "kuba@kernel.org", "davem@davemloft.net"} <= set(message.to)
        assert {"netdev@vger.kernel.org", "wireguard@lists.zx2c4.com"} <= set(message.cc)
        assert "torvalds@linux-foundation.org" not in message.to + message.cc
    for message in result.messages[1:]:
        assert f"Signed-off-by: {AUTHOR[0]} <{AUTHOR[1]}>" in message.body
        assert f"Signed-off-by: {ME[0]} <{ME[1]}>" in message.body
        assert f"From: {AUTHOR[0]} <{AUTHOR[1]}>" in message.body   # b4 keeps the author
    cover = result.messages[0].body
    pristine = git(ws.tree("synthetic"), "rev-parse", "l2wg/pristine").strip()
    assert result.base_commit == pristine
    assert f"base-commit: {pristine}\n" in cover
    assert f"change-id: {CHANGE_ID}\n" in cover
    assert "This series lets a WireGuard interface carry Ethernet frames." in cover
    assert "Comments like this" not in cover
    assert "Patch Author (2):" in cover and "Range-diff" not in cover
    assert result.out == ws.out / "submit" / "synthetic-v1" and result.out.is_dir()
    assert patches_digest(project) == before
    assert f"v1, 3 message(s) on base-commit {pristine[:12]}, change-id {CHANGE_ID}" \
        in sub.summary(result)


def test_messages_are_reproducible_but_for_date_and_message_id(project, kernel_src, ws, quiet,
                                                               tmp_path):
    good_series(project, kernel_src)

    def strip(path: Path) -> str:
        return "\n".join(ln for ln in path.read_text().splitlines()
                         if not ln.startswith(("Date:", "Message-Id:", "In-Reply-To:",
                                               "References:", "X-B4-Tracking:", " ")))

    first = sub.submit(project, ws, options(tmp_path, build_check=False, out=tmp_path / "a"), quiet)
    second = sub.submit(project, ws, options(tmp_path, build_check=False, out=tmp_path / "b"),
                        quiet)
    assert [strip(m.path) for m in first.messages] == [strip(m.path) for m in second.messages]


def test_v2_after_a_send_has_the_version_a_changelog_and_a_range_diff(
        project, kernel_src, ws, quiet, tmp_path, private_git):
    good_series(project, kernel_src)
    spool = fake_sendmail(tmp_path, private_git)

    v1 = sub.submit(project, ws, options(tmp_path, send=True, yes=True), quiet)

    assert v1.mailed == "send" and len(envelopes(spool)) == 3
    assert all("Jason@zx2c4.com" in e and "netdev@vger.kernel.org" in e for e in envelopes(spool))
    record = json.loads((project.patches / "submission" / "b4.json").read_text())
    sent = record["sent"]["v1"]
    assert sent["revision"] == 1 and sent["kernel"] == "synthetic"
    assert sent["base_commit"] == v1.base_commit
    assert sent["message_id"].startswith("20") and "@example.org" in sent["message_id"]
    assert len(list((project.patches / "submission" / "v1").glob("*.patch"))) == 2
    assert project.series().names and project.series().overrides() == {}  # not a kernel line

    # v2: the second patch changes, the cover letter says why.
    good_series(project, kernel_src, mode="3")
    cover = project.patches / "submission" / "cover-letter.txt"
    with pytest.raises(L2wgError, match="no 'Changes in v2:' section"):
        sub.submit(project, ws, options(tmp_path, build_check=False), quiet)
    cover.write_text(COVER + "\nChanges in v2:\n- Start the layer-2 mode as mode 3.\n")

    v2 = sub.submit(project, ws, options(tmp_path), quiet)

    assert v2.revision == 2 and v2.range_diff
    assert [m.subject for m in v2.messages] == [
        "[PATCH net-next v2 0/2] wireguard: add a layer-2 (Ethernet) mode",
        "[PATCH net-next v2 1/2] wireguard: start in layer-3 mode explicitly",
        "[PATCH net-next v2 2/2] wireguard: add a layer-2 mode"]
    body = v2.messages[0].body
    assert "Changes in v2:\n- Start the layer-2 mode as mode 3.\n" \
           f"- Link to v1: https://lore.kernel.org/r/{sent['message_id']}" in body
    assert "Range-diff versus v1:" in body
    assert "1:  " in body and "= 1:  " in body          # patch 1 unchanged
    assert "2:  " in body and "! 2:  " in body          # patch 2 changed
    assert "-+static int wg_mode = 2;" in body and "++static int wg_mode = 3;" in body
    assert f"change-id: {CHANGE_ID}" in body
    assert v2.out.name == "synthetic-v2"


def test_reflect_mails_only_the_sender_and_records_nothing(project, kernel_src, ws, quiet,
                                                           tmp_path, private_git):
    good_series(project, kernel_src)
    spool = fake_sendmail(tmp_path, private_git, reflect=True)
    before = patches_digest(project)

    result = sub.submit(project, ws, options(tmp_path, reflect=True, yes=True,
                                             build_check=False), quiet)

    assert result.mailed == "reflect"
    assert envelopes(spool) == [f"-i {ME[1]}\n"] * 3
    mails = sorted(p for p in spool.iterdir() if p.suffix != ".rcpt")
    assert all("To: \"Jason A. Donenfeld\" <Jason@zx2c4.com>" in p.read_text() for p in mails)
    assert patches_digest(project) == before


def test_revision_can_be_forced(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)
    (project.patches / "submission" / "cover-letter.txt").write_text(
        COVER + "\nChanges in v3:\n- Rebased.\n\nChanges in v2:\n- Split.\n")

    result = sub.submit(project, ws, options(tmp_path, revision=3, build_check=False), quiet)

    assert result.messages[2].subject.startswith("[PATCH net-next v3 2/2] ")
    assert not result.range_diff    # v2 was never recorded


# refusals: one line, non-zero, nothing in patches/ changes ---------------------------

def refused(project, ws, quiet, tmp_path, match: str, **kw) -> L2wgError:
    before = patches_digest(project)
    with pytest.raises(L2wgError, match=match) as info:
        sub.submit(project, ws, options(tmp_path, **kw), quiet)
    assert patches_digest(project) == before
    assert "\n" not in str(info.value)
    assert not (ws.out / "submit" / "synthetic-v1").exists()
    return info.value


@BOTH_SCRIPTS
def test_refuses_a_checkpatch_warning(project, kernel_src, ws, quiet, tmp_path):
    write_series(project, kernel_src, [
        {"subject": "wireguard: recieve frames in layer-2 mode",
         "body": "Let the device recieve whole frames.",
         "files": {WG_C: main_c("1")}}])

    error = refused(project, ws, quiet, tmp_path, r"checkpatch\.pl --strict: .* in "
                    r"0001-wireguard-recieve-frames-in-layer-2-mode\.eml, first: .*WARNING: "
                    r"'recieve' may be misspelled")
    assert error.log and error.log.is_file()


@BOTH_SCRIPTS
def test_refuses_a_checkpatch_error(project, kernel_src, ws, quiet, tmp_path):
    write_series(project, kernel_src, [
        {"subject": "wireguard: start in layer-2 mode",
         "body": "Default to the layer-2 mode.",
         "files": {"drivers/net/wireguard/main.c":
                   MAIN_C.replace("static int wg_mode;", "static int wg_mode = 1; ")}}])

    refused(project, ws, quiet, tmp_path, r"ERROR: trailing whitespace")


@BOTH_SCRIPTS
def test_refuses_a_new_file_that_no_maintainers_entry_covers(project, kernel_src, ws, quiet,
                                                              tmp_path):
    # A new file under drivers/net/wireguard/ is covered (good_series adds l2.c);
    # one under drivers/misc/ only falls to THE REST.
    (kernel_src / "drivers" / "misc").mkdir()
    write_series(project, kernel_src, [
        {"subject": "misc: add a layer-2 helper", "body": "A helper for layer-2 frames.",
         "files": {"drivers/misc/l2help.c": "// SPDX-License-Identifier: GPL-2.0\n"
                   "/* A helper. */\n\nint l2help(void)\n{\n\treturn 0;\n}\n"}}])

    refused(project, ws, quiet, tmp_path, r"WARNING: added, moved or deleted file\(s\), does "
                                          r"MAINTAINERS need updating\?")


@pytest.mark.integration
@pytest.mark.parametrize("kernel_scripts", ["kernel"], indirect=True)
def test_checkpatch_checks_spdx_licences_without_the_virtualenv_on_path(
        project, kernel_src, ws, quiet, tmp_path, monkeypatch):
    """checkpatch's scripts/spdxcheck.py needs ply: l2wg's own python3 must run it,
    also when PATH does not lead to the virtualenv."""
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    write_series(project, kernel_src, [
        {"subject": "wireguard: relicense the stand-in",
         "body": "A licence the kernel does not know.",
         "files": {WG_C: MAIN_C.replace("GPL-2.0", "GPL-2.0-or-whatever")}}])

    error = refused(project, ws, quiet, tmp_path,
                    r"checkpatch\.pl --strict: 1 error\(s\)/warning\(s\) in 0001-.*: WARNING: "
                    r"'SPDX-License-Identifier: GPL-2\.0-or-whatever' is not supported in "
                    r"LICENSES/")
    assert "ModuleNotFoundError" not in error.log.read_text()


def test_refuses_a_patch_that_does_not_build(project, kernel_src, ws, quiet, tmp_path):
    write_series(project, kernel_src, [
        EXPLICIT_MODE,
        {"subject": "wireguard: report the layer-2 mode",
         "body": "Use the layer-2 state in wg_init().",
         "files": {"drivers/net/wireguard/main.c":
                   MAIN_C.replace("return wg_mode;", "return wg_mode + wg_l2_state;")}}])

    error = refused(project, ws, quiet, tmp_path,
                    r"^patch 2/2 \(wireguard: report the layer-2 mode\) does not build: "
                    r"make drivers/net/wireguard/ failed: .*wg_l2_state")
    assert "wg_l2_state" in error.log.read_text()


def test_refuses_a_patch_that_adds_a_w1_warning(project, kernel_src, ws, quiet, tmp_path):
    write_series(project, kernel_src, [
        EXPLICIT_MODE,
        {"subject": "wireguard: take flags in wg_init()",
         "body": "A later patch passes the layer-2 flag here.",
         "files": {WG_C: main_c("1").replace("wg_init(void)", "wg_init(int flags)")}}])

    error = refused(project, ws, quiet, tmp_path,
                    r"^patch 2/2 \(wireguard: take flags in wg_init\(\)\) adds 1 warning\(s\) "
                    r"\(W=1 C=2\) in drivers/net/wireguard, first: main\.c: unused parameter "
                    r".flags.")
    assert "-Wunused-parameter" in error.log.read_text()


def test_a_warning_of_the_base_is_not_the_series_fault(project, kernel_src, ws, quiet,
                                                       tmp_path):
    """The base's own sparse warning (wg_init is not static) moves down three lines."""
    write_series(project, kernel_src, [
        {"subject": "wireguard: explain the mode",
         "body": "Say what the mode variable is for.",
         "files": {WG_C: MAIN_C.replace("static int wg_mode;",
                                        "/*\n * 0: not set; 1: layer 3.\n */\nstatic int wg_mode;")}}])

    result = sub.submit(project, ws, options(tmp_path), quiet)

    assert result.built == 1
    log = result.log.read_text()
    assert re.search(r"main\.c:6:5: warning: symbol 'wg_init' was not declared", log)
    assert re.search(r"main\.c:9:5: warning: symbol 'wg_init' was not declared", log)


def test_refuses_without_git_identity(project, kernel_src, ws, quiet, tmp_path, private_git):
    good_series(project, kernel_src)
    private_git.write_text("")

    refused(project, ws, quiet, tmp_path, r"no git identity: user\.name is not set")


def test_the_identity_of_the_checkout_is_the_senders(project, kernel_src, ws, quiet, tmp_path,
                                                     private_git):
    # No global identity, only the checkout's own (git config --local).
    good_series(project, kernel_src)
    private_git.write_text("")
    git(project.root, "init", "-q")
    git(project.root, "config", "user.name", ME[0])
    git(project.root, "config", "user.email", ME[1])

    result = sub.submit(project, ws, options(tmp_path, build_check=False), quiet)

    assert f"Test Submitter <{ME[1]}>" in result.messages[0].path.read_text().split("\n", 1)[0]


def test_refuses_a_patch_without_signed_off_by(project, kernel_src, ws, quiet, tmp_path):
    write_series(project, kernel_src, [
        {"subject": "wireguard: start in layer-2 mode", "body": "Default to layer 2.",
         "signoff": False,
         "files": {WG_C: main_c("1")}}])

    refused(project, ws, quiet, tmp_path, r"0001-.*\.eml: no Signed-off-by: \(patch 1/1\)")


def test_signoff_adds_the_senders_signed_off_by(project, kernel_src, ws, quiet, tmp_path):
    write_series(project, kernel_src, [
        {"subject": "wireguard: start in layer-2 mode", "body": "Default to layer 2.",
         "author": ME, "signoff": False,
         "files": {WG_C: main_c("1")}}])

    result = sub.submit(project, ws, options(tmp_path, signoff=True, build_check=False), quiet)

    # One patch: one mail, no counter, the cover letter below its '---'.
    [message] = result.messages
    assert message.subject == "[PATCH net-next] wireguard: start in layer-2 mode"
    assert f"Signed-off-by: {ME[0]} <{ME[1]}>" in message.body
    assert "---\nThis series lets a WireGuard interface carry Ethernet frames." in message.body
    assert f"base-commit: {result.base_commit}" in message.body


def test_refuses_without_maintainers(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)
    (kernel_src / "MAINTAINERS").unlink()

    refused(project, ws, quiet, tmp_path, r"the kernel tree has no MAINTAINERS")


def test_refuses_without_get_maintainer(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)
    (kernel_src / "scripts" / "get_maintainer.pl").unlink()

    refused(project, ws, quiet, tmp_path, r"no scripts/get_maintainer\.pl")


def test_refuses_an_unedited_cover_letter(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)
    (project.patches / "submission" / "cover-letter.txt").write_text("EDITME: title\n\nbody\n")

    refused(project, ws, quiet, tmp_path, r"cover-letter\.txt: .*no EDITME")


def test_refuses_an_empty_series(project, kernel_src, ws, quiet, tmp_path):
    refused(project, ws, quiet, tmp_path, r"lists no patches")


def test_refuses_to_send_without_the_build_check(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)

    refused(project, ws, quiet, tmp_path, "--send needs the build check", send=True,
            build_check=False)


def test_refuses_to_replace_a_directory_that_is_not_its_own(project, kernel_src, ws, quiet,
                                                           tmp_path):
    good_series(project, kernel_src)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")

    refused(project, ws, quiet, tmp_path, "holds more than messages", out=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_refuses_to_mail_without_a_transport(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)

    with pytest.raises(L2wgError, match="no mail transport"):
        sub.submit(project, ws, options(tmp_path, reflect=True, build_check=False), quiet)
    assert not (project.patches / "submission" / "v1").exists()


# small pieces ---------------------------------------------------------------------------

def test_default_base_is_the_newest_offline_line():
    """A submission is based on the newest line, the one the series is made on."""
    real = Project(Path(__file__).resolve().parents[1])
    assert sub.default_base(real.matrix()) == "7.3" == real.matrix().canonical


def test_link_to_the_previous_revision_goes_into_its_changelog():
    record = submission.Record("l2wireguard", CHANGE_ID, ["net-next"], {
        1: submission.SentRevision(1, "6.12", "abc", "20261122-l2wireguard-v1-0-1@example.org",
                                   "now")})
    text = "Title\n\nBody.\n\nChanges in v2:\n- Fixed.\n\nThe end.\n"

    cover = submission.cover_letter(text, record, 2, Path("cover-letter.txt"))

    assert "- Fixed.\n- Link to v1: https://lore.kernel.org/r/20261122-l2wireguard-v1-0-1@" \
           "example.org\n\nThe end." in cover


SENT_V1 = {"revision": 1, "kernel": "6.12", "base_commit": "abc", "date": "now",
           "message_id": "20261122-l2wireguard-v1-0-1@example.org"}


def b4_json(tmp_path: Path, data) -> submission.Submission:
    (tmp_path / "b4.json").write_text(data if isinstance(data, str) else json.dumps(data))
    return submission.Submission(tmp_path)


def test_the_record_keeps_its_format_and_reads_back(tmp_path):
    record = submission.Record("l2wireguard", CHANGE_ID, ["net-next"],
                               {1: submission.SentRevision(**SENT_V1)})
    where = submission.Submission(tmp_path)
    where.save_record(record)
    assert json.loads(where.record_path.read_text())["format"] == submission.RECORD_FORMAT
    assert where.record() == record
    # A record from before the format was written has the same layout.
    older = b4_json(tmp_path, {"name": "l2wireguard", "change-id": CHANGE_ID,
                               "prefixes": ["net-next"], "sent": {"v1": SENT_V1}})
    assert older.record() == record


@pytest.mark.parametrize("data, error", [
    ('{"change-id": ', r"corrupt, not JSON \(.*\)"),
    ("[]", r"corrupt, not a JSON object"),
    ({"format": 2, "change-id": CHANGE_ID}, r"written by a newer l2wg \(format 2, this l2wg "
                                            r"reads 1\)"),
    ({"name": "l2wireguard", "prefixes": []}, r"no change-id"),
    ({"change-id": CHANGE_ID, "bogus": 1}, r"unknown field 'bogus'"),
    ({"change-id": CHANGE_ID, "sent": {"v1": {**SENT_V1, "bogus": 1}}},
     r"sent\.v1: unknown field 'bogus'"),
    ({"change-id": CHANGE_ID, "sent": {"v1": {**SENT_V1, "revision": "1"}}},
     r"sent\.v1\.revision: expected int, found a string"),
    ({"change-id": CHANGE_ID, "sent": {"v1": {k: v for k, v in SENT_V1.items()
                                              if k != "message_id"}}},
     r"sent\.v1: missing field 'message_id'"),
    ({"change-id": CHANGE_ID, "sent": {"v2": SENT_V1}}, r"sent\.v2: holds revision 1"),
    ({"change-id": CHANGE_ID, "prefixes": "net-next"}, r"prefixes: expected a list of strings"),
], ids=["json", "not-object", "newer", "no-change-id", "unknown", "sent-unknown", "sent-type",
        "sent-missing", "sent-key", "prefixes"])
def test_a_record_that_does_not_fit_is_one_clear_error(tmp_path, data, error):
    where = b4_json(tmp_path, data)
    with pytest.raises(L2wgError, match=r"b4\.json: .*" + error + r".*: fix it, or restore it "
                                        r"from git$"):
        where.record()


def test_b4_tracking_data_that_is_not_json_is_a_clear_error(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for n, body in enumerate(['{"series": {"revision": 1', '{"series": 1}']):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"cover {n}\n\n{sub.B4_MAGIC}\n{body}")
        with pytest.raises(L2wgError, match="b4's tracking data (is not JSON|has no 'series')"):
            sub.read_tracking(repo, "HEAD", tmp_path / "log")


def test_options_from_the_command_line():
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_submit_arguments(parser)
    opts = cli.submit_options(parser.parse_args(["--base", "6.1", "-r", "2", "--reflect"]))
    assert (opts.base, opts.revision, opts.reflect, opts.send, opts.build_check) == \
        ("6.1", 2, True, False, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--send", "--reflect"])


# the real kernel tree -----------------------------------------------------------------

REAL_KERNEL = "6.12"


@pytest.fixture
def real_project(tmp_path, real_ws) -> Project:
    """The checkout's kernels.toml and ci/, with a synthetic series against real WireGuard."""
    root = Path(__file__).resolve().parents[1]
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(root / "kernels.toml", copy)
    shutil.copytree(root / "ci", copy / "ci")
    shutil.copytree(root / "patches" / "submission", copy / "patches" / "submission")
    return Project(copy)


def real_sources(real_ws, names: tuple[str, ...]) -> Path:
    """The pristine files *names* of the real tree, in a directory of their own."""
    from l2wg import sources, tree

    project = Project(Path(__file__).resolve().parents[1])
    kernel = project.matrix().get(REAL_KERNEL)
    work = tree.ensure_pristine(kernel, sources.fetch(kernel, real_ws, silent()), real_ws,
                                silent())
    base = real_ws.root / "tmp-submit-test-base"
    shutil.rmtree(base, ignore_errors=True)
    for name in names:
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(git(work.path, "show", f"{tree.PRISTINE_TAG}:{name}"))
    return base


VERSION_H = "drivers/net/wireguard/version.h"
REAL_MAIN_C = "drivers/net/wireguard/main.c"
LOADED = 'pr_info("WireGuard " WIREGUARD_VERSION " loaded.'


def real_series(project: Project, real_ws, with_define: bool = True) -> None:
    base = real_sources(real_ws, (VERSION_H, REAL_MAIN_C))
    version_h, main_text = ((base / n).read_text() for n in (VERSION_H, REAL_MAIN_C))
    define = version_h + "#define WIREGUARD_L2_VERSION 1\n"
    use = main_text.replace(LOADED, 'pr_info("WireGuard layer-2 mode version %d\\n", '
                                 'WIREGUARD_L2_VERSION);\n\t' + LOADED)
    commits = [{"subject": "wireguard: use the layer-2 mode version",
                "body": "Say which layer-2 mode the module implements when it loads.",
                "files": {REAL_MAIN_C: use}}]
    if with_define:
        commits.insert(0, {"subject": "wireguard: add a version for the layer-2 mode",
                           "body": "The layer-2 mode will change separately from the "
                                   "protocol,\nso it gets a version of its own.",
                           "files": {VERSION_H: define}})
    write_series(project, base, commits)


@pytest.mark.integration
def test_real_tree_two_patches_checked_built_and_addressed(real_project, real_ws, quiet,
                                                          tmp_path):
    real_series(real_project, real_ws)

    result = sub.submit(real_project, real_ws,
                        options(tmp_path, base=REAL_KERNEL, out=tmp_path / "out",
                                kbuild_lock=sub.KBUILD_LOCK, jobs=2), quiet)

    assert result.built == 2
    assert [m.subject for m in result.messages] == [
        "[PATCH net-next 0/2] wireguard: add a layer-2 (Ethernet) mode",
        "[PATCH net-next 1/2] wireguard: add a version for the layer-2 mode",
        "[PATCH net-next 2/2] wireguard: use the layer-2 mode version"]
    cover = result.messages[0]
    assert {"Jason@zx2c4.com", "kuba@kernel.org", "pabeni@redhat.com",
            "edumazet@google.com", "davem@davemloft.net"} <= set(cover.to)
    assert {"wireguard@lists.zx2c4.com", "netdev@vger.kernel.org"} <= set(cover.cc)
    pristine = git(real_ws.tree(REAL_KERNEL), "rev-parse", "l2wg/pristine").strip()
    assert f"base-commit: {pristine}" in cover.body
    # the shared work tree was not touched
    assert git(real_ws.tree(REAL_KERNEL), "status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.integration
def test_real_tree_refuses_a_patch_that_needs_a_later_one(real_project, real_ws, quiet,
                                                          tmp_path):
    real_series(real_project, real_ws, with_define=False)

    with pytest.raises(L2wgError, match=r"^patch 1/1 \(wireguard: use the layer-2 mode "
                                        r"version\) does not build: .*WIREGUARD_L2_VERSION"):
        sub.submit(real_project, real_ws,
                   options(tmp_path, base=REAL_KERNEL, out=tmp_path / "out",
                           kbuild_lock=sub.KBUILD_LOCK, jobs=2), quiet)


def test_subject_prefix_follows_the_kernel_convention():
    assert sub.subject_prefix(["net-next"], 1, 0, 3) == "[PATCH net-next 0/3] "
    assert sub.subject_prefix(["net-next"], 2, 1, 3) == "[PATCH net-next v2 1/3] "
    assert sub.subject_prefix(["net-next"], 3, 1, 1) == "[PATCH net-next v3] "


def test_a_missing_record_gets_a_change_id_that_stays(project, kernel_src, ws, quiet, tmp_path):
    good_series(project, kernel_src)
    record = project.patches / "submission" / "b4.json"
    record.unlink()

    first = sub.submit(project, ws, options(tmp_path, build_check=False), quiet)
    second = sub.submit(project, ws, options(tmp_path, build_check=False), quiet)

    saved = json.loads(record.read_text())
    assert saved["change-id"] == first.change_id == second.change_id
    assert saved["change-id"].endswith(first.change_id[-12:]) and "-l2wireguard-" in first.change_id
    assert saved["sent"] == {} and saved["prefixes"] == ["net-next"]


def test_a_checkpatch_helper_that_crashes_is_reported():
    output = ('Traceback (most recent call last):\n'
              '  File "/src/linux/scripts/spdxcheck.py", line 6, in <module>\n'
              '    from ply import lex, yacc\n'
              "ModuleNotFoundError: No module named 'ply'\n") * 2
    message = sub.Message(Path("0001-x.eml"), "[PATCH net-next 1/2] x", (), (), "")

    assert sub.helper_failures(message, output) == [
        "0001-x.eml: NOTE: scripts/spdxcheck.py did not run (ModuleNotFoundError: No module "
        "named 'ply'), its check was skipped"]


def test_a_sparse_the_kernel_refuses_is_reported_as_skipped_not_passed():
    # 7.3's Makefile, with bookworm's sparse 0.6.4 (no __typeof_unqual__).
    output = ("  CC      drivers/net/wireguard/main.o\n"
              "/src/Makefile:1311: C=2 specified, but sparse is not available or not up to "
              "date\n")
    assert "sparse is not available or not up to date" in sub.checker_not_run(output)
    assert sub.checker_not_run("  CHECK   drivers/net/wireguard/main.c\n") == ""
    result = sub.SubmitResult("7.3", 1, "ae67c74", Path("/out"),
                                 [sub.Message(Path("/out/0000.eml"), "s", ("a@b",), (), "")],
                                 [], 8, False, checker_skipped=sub.checker_not_run(output))
    text = sub.summary(result)
    assert "sparse (C=2) SKIPPED" in text and "no new W=1/C=2" not in text


def sparse_project(tmp_path: Path, archive, tools: str) -> Project:
    root = tmp_path / "project"
    root.mkdir(parents=True)
    (root / "kernels.toml").write_text(
        f'[debian]\nmirror = "{archive.mirror}"\nkeyring = "{archive.keyring}"\n'
        f'suites = ["l2wg-test"]\nhost = false\n{tools}\n'
        '[defaults]\nfragments = []\n[kernels."7.3"]\nsource = { type = "local", path = "/nonexistent" }\n')
    return Project(root)


def kernel_that_accepts(tmp_path: Path, accepted: str) -> Path:
    """A tree whose scripts/checker-valid.sh (a stand-in) accepts only *accepted*."""
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    (clone / "scripts" / "checker-valid.sh").write_text(
        f'#!/bin/sh\ncase "$1" in {accepted}) echo 1 ;; *) echo 0 ;; esac\n')
    return clone


def test_a_sparse_from_the_tools_suite_runs_where_the_hosts_is_refused(
        debian_server, ws, tmp_path):
    _, archive = debian_server
    project = sparse_project(tmp_path, archive, '[tools]\nsparse = { suite = "l2wg-test" }')
    clone = kernel_that_accepts(tmp_path, "*/sparse-wrapper")
    checker = sub.choose_sparse(clone, project, ws, silent(), tmp_path / "log")
    assert checker.description == "sparse 0.9.9-1 (l2wg-test)"
    wrapper = Path(checker.make_vars[0].removeprefix("CHECK="))
    assert checker.make_vars == (f"CHECK={wrapper}",) and wrapper.name == "sparse-wrapper"
    result = sub.SubmitResult("7.3", 1, "ae67c74", Path("/out"),
                              [sub.Message(Path("/out/0000.eml"), "s", ("a@b",), (), "")],
                              [], 8, False, checker=checker.description)
    assert "no new W=1/C=2 warning in drivers/net/wireguard (sparse: sparse 0.9.9-1 " \
        "(l2wg-test))" in sub.summary(result)


def test_the_hosts_sparse_stays_where_the_kernel_accepts_it_or_nothing_else_is_named(
        debian_server, ws, tmp_path):
    _, archive = debian_server
    with_suite = sparse_project(tmp_path, archive, '[tools]\nsparse = { suite = "l2wg-test" }')
    host_ok = kernel_that_accepts(tmp_path / "a", "sparse")
    assert sub.choose_sparse(host_ok, with_suite, ws, silent(), tmp_path / "log") == sub.Checker()
    # Neither accepted: no CHECK=, so kbuild says it runs none and the gate says SKIPPED.
    refuses_all = kernel_that_accepts(tmp_path / "b", "nothing")
    assert sub.choose_sparse(refuses_all, with_suite, ws, silent(),
                             tmp_path / "log") == sub.Checker()
    without = sparse_project(tmp_path / "c", archive, "")
    assert sub.choose_sparse(refuses_all, without, ws, silent(), tmp_path / "log") == sub.Checker()
