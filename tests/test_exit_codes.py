"""The command line's exit status says what kind of failure it was (l2wg --help's
epilog), on real small cases: a bad kernels.toml, an unknown kernel, a program
missing from PATH, a tarball server on 127.0.0.1 that answers 404, a kernel tree
whose make fails.  Every expected failure is one line on stderr, never a traceback;
anything else is an internal error with its own code and the traceback in a file."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from l2wg import cli
from l2wg.errors import BadInput, BuildError, CheckFailed, FetchError, L2wgError, MissingTool

MAKEFILE = ("VERSION = 6\nPATCHLEVEL = 8\nSUBLEVEL = 0\nEXTRAVERSION =\nNAME = test\n\n"
            "%:\n\t@echo 'error: this test tree cannot make $@'; exit 2\n")


def make_project(root: Path, entries: str) -> Path:
    """A checkout: kernels.toml with *entries*, empty config fragments, an empty series."""
    (root / "ci" / "kconfig").mkdir(parents=True)
    for fragment in ("base", "checks"):
        (root / "ci" / "kconfig" / f"{fragment}.config").write_text("")
    (root / "patches").mkdir()
    (root / "patches" / "series").write_text("")
    (root / "kernels.toml").write_text(entries)
    return root


def l2wg(project: Path, tmp_path: Path, *args: str) -> int:
    return cli.main([*args, "--project", str(project), "--workspace", str(tmp_path / "ws"), "-q"])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("l2wg: error: ")
    return err


def test_the_epilog_documents_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "Exit status, by kind of failure" in out
    for code in (*cli.EXIT_CODES.values(), cli.EXIT_INTERNAL, cli.EXIT_INTERRUPTED):
        assert f"\n  {code:<4} " in out
    for kind in (BadInput, MissingTool, FetchError, BuildError, CheckFailed, L2wgError):
        assert kind.kind in cli.EXIT_CODES
    assert sorted(cli.EXIT_CODES.values()) == [1, 2, 3, 4, 5, 6]


def test_a_bad_kernels_toml_is_bad_input(tmp_path, capsys):
    project = make_project(tmp_path / "p", "kernels = []\n")
    assert l2wg(project, tmp_path, "kernels") == 2
    assert "kernels.toml: [kernels]: must be a table of kernel entries" in one_error_line(capsys)
    project = make_project(tmp_path / "q", '[kernels."6.8"]\narch = "arm64"\nsource = { type = '
                                           '"local", path = "/nonexistent" }\n')
    assert l2wg(project, tmp_path, "build", "6.8") == 2
    assert 'kernels.toml: [kernels."6.8"].arch: must be "x86_64"' in one_error_line(capsys)


def test_an_unknown_kernel_and_a_bad_argument_are_bad_input(tmp_path, capsys):
    project = make_project(tmp_path / "p", '[kernels."6.8"]\nsource = { type = "local", '
                                           'path = "/nonexistent" }\n')
    assert l2wg(project, tmp_path, "build", "9.9") == 2
    assert "unknown kernel '9.9'" in one_error_line(capsys)
    assert l2wg(project, tmp_path, "build", "6.8", "W") == 2
    assert "'W' is not a make variable" in one_error_line(capsys)
    with pytest.raises(SystemExit) as usage:             # argparse's own usage error: 2 too
        cli.main(["build", "--no-such-option"])
    assert usage.value.code == 2


@pytest.fixture
def not_found_server(tmp_path):
    """An HTTP server on 127.0.0.1 that has nothing: every GET is a 404."""
    docroot = tmp_path / "www"
    docroot.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(docroot)))
    # Its shutdown() waits for the next poll: every 0.05 s, not the default 0.5 s.
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_tarball_server_that_answers_404_is_a_fetch_failure(tmp_path, capsys, not_found_server):
    project = make_project(tmp_path / "p", f'''
[kernels."6.8"]
version = "6.8"
source = {{ type = "tarball", url = "{not_found_server}/linux-6.8.tar.xz", sha256 = "{"0" * 64}" }}
''')
    assert l2wg(project, tmp_path, "build", "6.8") == 4
    err = one_error_line(capsys)
    assert f"cannot fetch {not_found_server}/linux-6.8.tar.xz: 404" in err
    assert not list((tmp_path / "ws" / "sources" / "tarballs").glob("*"))


def local_tree_project(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    (tree / "drivers" / "net" / "wireguard").mkdir(parents=True)
    (tree / "Makefile").write_text(MAKEFILE)
    (tree / "Kconfig").write_text('config NET\n\tbool "net"\n')
    (tree / "drivers" / "net" / "wireguard" / "device.c").write_text("int x;\n")
    return make_project(tmp_path / "p", f'[kernels."6.8"]\nversion = "6.8"\n'
                                         f'source = {{ type = "local", path = "{tree}" }}\n')


def test_make_failing_is_a_build_failure(tmp_path, capsys):
    project = local_tree_project(tmp_path)
    assert l2wg(project, tmp_path, "build", "6.8", "-j1", "--no-ccache") == 5
    err = one_error_line(capsys)
    assert "make tinyconfig failed (exit 2): make: *** [Makefile:8: tinyconfig] Error 2" in err
    log = Path(err.split("(log: ")[1].rstrip(")\n"))
    assert "error: this test tree cannot make tinyconfig" in log.read_text()


def test_a_program_missing_from_path_is_a_missing_tool(tmp_path, capsys, monkeypatch):
    """git is there (the tree is imported), make is not: the build cannot start."""
    import shutil

    project = local_tree_project(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("git",):
        os.symlink(shutil.which(program), bin_dir / program)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert l2wg(project, tmp_path, "build", "6.8", "-j1", "--no-ccache") == 3
    assert "make: command not found (needed for make tinyconfig)" in one_error_line(capsys)


def failing_boot(tmp_path: Path, monkeypatch):
    """boot.boot answering as a guest whose vlan check failed (no QEMU in the unit tests)."""
    from l2wg import boot, userspace
    from l2wg.guest import GuestPrograms
    from l2wg.ktap import Status
    from l2wg.report import CheckResult, SuiteReport

    def fake_boot(ws, artifacts, **options):
        suite = SuiteReport("6.8", "tcg", [CheckResult("ping", Status.PASS, 1.0),
                                           CheckResult("vlan", Status.FAIL, 1.0, reason="lost")],
                            2.0)
        return boot.BootResult("checks", "6.8", tmp_path / "run", tmp_path / "console.log", "",
                               None, None, 2.0, suite=suite)

    monkeypatch.setattr(boot, "boot", fake_boot)
    monkeypatch.setattr(userspace, "guest_programs", lambda *a, **k: GuestPrograms())


def test_a_failed_check_is_a_check_failure(tmp_path, capsys, monkeypatch):
    failing_boot(tmp_path, monkeypatch)
    project = make_project(tmp_path / "p", '[kernels."6.8"]\nsource = { type = "local", '
                                           'path = "/nonexistent" }\n')
    assert l2wg(project, tmp_path, "boot", "6.8") == 6
    captured = capsys.readouterr()
    assert "vlan" in captured.out                       # the results table, as before
    assert captured.err == "l2wg: error: 6.8: check(s) failed: vlan\n"


def test_ci_exits_with_the_earliest_kind_of_failure(tmp_path, capsys, monkeypatch):
    from l2wg import pipeline

    def run_matrix(kernels, project, ws, opts, progress):
        return [pipeline.KernelRun("6.8", [
                    pipeline.StageResult("6.8", "build", "pass"),
                    pipeline.StageResult("6.8", "boot", "fail", detail="6.8: vlan", kind="check")]),
                pipeline.KernelRun("6.9", [
                    pipeline.StageResult("6.9", "build", "fail", detail="make failed",
                                         kind="build"),
                    pipeline.StageResult("6.9", "boot", "skip")])]

    monkeypatch.setattr(pipeline, "run_matrix", run_matrix)
    project = make_project(tmp_path / "p", '[kernels."6.8"]\nsource = { type = "local", '
                                           'path = "/nonexistent" }\n')
    assert l2wg(project, tmp_path, "ci", "6.8", "--report", str(tmp_path / "r")) == 5
    err = one_error_line(capsys)
    assert "2 of 2 kernel(s) failed: 6.8 boot (check), 6.9 build (build)" in err


def test_an_unexpected_exception_is_one_line_and_a_traceback_file(tmp_path, capsys, monkeypatch):
    def broken(args):
        return {}["no such key"]

    monkeypatch.setitem(cli.COMMANDS, "kernels", broken)
    assert cli.main(["kernels", "--workspace", str(tmp_path / "ws")]) == cli.EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("l2wg: internal error (a bug in l2wg): KeyError: 'no such key' "
                          "(traceback: ")
    log = Path(err.split("(traceback: ")[1].rstrip(")\n"))
    assert log.parent == tmp_path / "ws" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in broken" in text
    assert "argv: " in text and "'kernels'" in text


def test_an_interrupt_is_130(tmp_path, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "kernels", interrupted)
    assert cli.main(["kernels"]) == 130
    assert capsys.readouterr().err == "l2wg: interrupted\n"


def test_a_failure_of_no_particular_kind_is_1_and_stays_on_one_line(capsys, monkeypatch):
    def fails(args):
        raise L2wgError("git am failed:\n  error: patch failed: device.c:12\n")

    monkeypatch.setitem(cli.COMMANDS, "kernels", fails)
    assert cli.main(["kernels"]) == 1
    assert capsys.readouterr().err == ("l2wg: error: git am failed: / error: patch failed: "
                                       "device.c:12\n")
