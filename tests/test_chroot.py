"""Chroots of Debian suites: their names, the commands that make and enter them,
caching and atomicity; and a real session in a tiny busybox chroot (no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from l2wg import chroot
from l2wg.errors import L2wgError
from l2wg.progress import silent
from l2wg.workspace import Workspace


def test_a_backports_suite_comes_with_its_release():
    suite = chroot.Suite.named("trixie-backports")
    assert suite.base == "trixie" and suite.release == "trixie"
    assert suite.sources() == (
        "deb http://deb.debian.org/debian trixie main",
        "deb http://deb.debian.org/debian trixie-updates main",
        "deb http://deb.debian.org/debian-security trixie-security main",
        "deb http://deb.debian.org/debian trixie-backports main")


def test_a_release_has_its_updates_and_security_sid_has_neither():
    assert chroot.Suite.named("bookworm").sources() == (
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main")
    assert chroot.Suite.named("sid").sources() == ("deb http://deb.debian.org/debian sid main",)


@pytest.mark.parametrize("make, message", [
    (lambda: chroot.Suite("trixie-backports"), "needs base 'trixie'"),
    (lambda: chroot.Suite("trixie-backports", "bookworm"), "needs base 'trixie'"),
    (lambda: chroot.Suite("sid", "trixie"), "not a backports suite"),
    (lambda: chroot.Suite("Sid;rm"), "bad suite name"),
    (lambda: chroot.ChrootSpec(chroot.Suite("sid"), ("dkms", "x y")), "bad Debian package name"),
])
def test_bad_suites_and_packages_are_refused(make, message):
    with pytest.raises(L2wgError, match=message):
        make()


def spec(suite: str = "sid", packages=("dkms", "xz-utils"), **kw) -> chroot.ChrootSpec:
    return chroot.ChrootSpec(chroot.Suite.named(suite, **kw), tuple(packages))


def test_the_name_is_the_suite_and_a_digest_of_every_input():
    one = spec()
    assert one.name == f"sid-{one.digest[:12]}" and len(one.digest) == 64
    assert spec(packages=("xz-utils", "dkms")).name == one.name      # a set, not a list
    others = {spec("bookworm").name, spec(packages=("dkms",)).name,
              spec(mirror="http://127.0.0.1/debian").name,
              chroot.ChrootSpec(one.suite, one.packages, arch="arm64").name,
              chroot.ChrootSpec(one.suite, one.packages, apt_options=()).name}
    assert one.name not in others and len(others) == 5


def test_the_format_is_part_of_the_digest(monkeypatch):
    before = spec().name
    monkeypatch.setattr(chroot, "FORMAT", chroot.FORMAT + 1)
    assert spec().name != before


def test_mmdebstrap_checks_signatures_and_accepts_the_snapshot():
    argv = spec("trixie-backports").mmdebstrap_command(Path("/ws/chroots/.staging"))
    assert argv[:3] == ["mmdebstrap", "--mode=root", "--variant=apt"]
    assert "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg" in argv
    assert '--aptopt=Acquire::Check-Valid-Until "false"' in argv
    assert '--aptopt=Acquire::Check-Date "false"' in argv
    assert "--include=dkms,xz-utils" in argv
    # The release is the suite argument; the backports line comes with the sources.
    tail = argv[argv.index("--include=dkms,xz-utils") + 1:]
    assert tail[:2] == ["trixie", "/ws/chroots/.staging"]
    assert tail[2:] == list(chroot.Suite.named("trixie-backports").sources())
    assert not any("--skip" in a or "allow-insecure" in a.lower() for a in argv)


def test_session_command_mounts_only_in_a_private_namespace():
    root, upper, work = Path("/s/root"), Path("/s/upper"), Path("/s/work")
    argv = chroot.session_command(
        root, [Path("/c/base+h/upper"), Path("/c/base")], upper, work,
        ["apt-get", "install", "/l2wg/x.deb"],
        binds=[chroot.Bind(Path("/out/x"), "/l2wg", read_only=False),
               chroot.Bind(Path("/in"), "/in/ro")], env={"INITRD": "No"})
    assert argv[:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    assert argv[5:7] == ["sh", "-euc"]
    script = argv[7].splitlines()
    assert script[0] == ("mount -t overlay overlay -o "
                         "lowerdir=/c/base+h/upper:/c/base,upperdir=/s/upper,workdir=/s/work /s/root")
    assert script[1:3] == ["mount -t proc proc /s/root/proc", "mount --rbind /dev /s/root/dev"]
    assert script[3:7] == ["mkdir -p /s/root/l2wg", "mount --bind /out/x /s/root/l2wg",
                           "mkdir -p /s/root/in/ro", "mount --bind -o ro /in /s/root/in/ro"]
    assert script[7].startswith("exec chroot /s/root /usr/bin/env -i PATH=")
    assert "DEBIAN_FRONTEND=noninteractive" in script[7] and "INITRD=No" in script[7]
    assert script[7].endswith('"$@"') and len(script) == 8
    # The command itself is passed as arguments, never pasted into the script.
    assert argv[8:] == ["l2wg-chroot", "apt-get", "install", "/l2wg/x.deb"]


@pytest.mark.parametrize("make, message", [
    (lambda: chroot.session_command(Path("/r"), [Path("/a,b")], Path("/u"), Path("/w"), ["true"]),
     "must not contain ','"),
    (lambda: chroot.session_command(Path("/r"), [Path("/a")], Path("/u:x"), Path("/w"), ["true"]),
     "must not contain ','"),
    (lambda: chroot.Bind(Path("/x"), "relative"), "plain absolute path"),
    (lambda: chroot.Bind(Path("/x"), "/a/../../etc"), "plain absolute path"),
])
def test_unsafe_paths_are_refused(make, message):
    with pytest.raises(L2wgError, match=message):
        make()


def test_layers_stack_topmost_first_and_are_named_after_their_packages(tmp_path):
    base = chroot.Chroot(spec(), tmp_path / "sid-abc")
    assert base.lowers == (tmp_path / "sid-abc",)
    name = chroot.layer_name(base, ["linux-image-7.2", "linux-headers-7.2"])
    assert name == "sid-abc+linux-headers-7.2+linux-image-7.2"
    long = chroot.layer_name(base, [f"linux-headers-{'9' * 120}", f"linux-image-{'9' * 120}"])
    assert long.startswith("sid-abc+") and len(long) < 60
    layered = chroot.Chroot(base.spec, base.base, (tmp_path / "l1", tmp_path / "l2"), ("a", "b"))
    assert layered.lowers == (tmp_path / "l2", tmp_path / "l1", tmp_path / "sid-abc")
    assert layered.name == "sid-abc+a+b"


@pytest.fixture
def fake_root(monkeypatch):
    """Let the making logic run in tests without root (no command really runs)."""
    monkeypatch.setattr(chroot, "need_root", lambda what: None)


def test_a_present_chroot_is_reused_without_running_anything(tmp_path, fake_root, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    one = spec()
    (ws.chroots / one.name).mkdir(parents=True)
    (ws.chroots / f"{one.name}+linux-headers-7.2/upper").mkdir(parents=True)

    def no_command(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(chroot, "run", no_command)
    made = chroot.ensure(one, ws, silent(), tmp_path / "log")
    assert made.base == ws.chroots / one.name
    layered = chroot.with_packages(made, ["linux-headers-7.2"], ws, silent(), tmp_path / "log")
    assert layered.lowers == (ws.chroots / f"{one.name}+linux-headers-7.2/upper", made.base)


def test_a_failed_mmdebstrap_leaves_nothing(tmp_path, fake_root, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    seen = []

    def failing(argv, **kwargs):
        target = Path(argv[-len(spec().suite.sources()) - 1])
        seen.append(target)
        (target / "etc").mkdir()               # half-made
        (target / "etc" / "os-release").write_text("sid\n")
        raise L2wgError("mmdebstrap failed (exit 1)", kwargs.get("log_path"))

    monkeypatch.setattr(chroot, "run", failing)
    with pytest.raises(L2wgError, match="mmdebstrap failed"):
        chroot.ensure(spec(), ws, silent(), tmp_path / "log")
    assert seen and seen[0].parent == ws.chroots and not seen[0].exists()
    assert [p.name for p in ws.chroots.iterdir() if not p.name.endswith(".lock")] == []


def test_mmdebstrap_runs_in_its_own_mount_namespace(tmp_path, fake_root, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    calls = []

    def record(argv, **kwargs):
        calls.append(list(argv))
        target = Path(argv[-len(spec().suite.sources()) - 1])
        assert target.stat().st_mode & 0o777 == 0o755     # it becomes the chroot's '/'
        (target / "etc").mkdir()

    monkeypatch.setattr(chroot, "run", record)
    made = chroot.ensure(spec(), ws, silent(), tmp_path / "log")
    assert calls[0][:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    assert "mmdebstrap" in calls[0]
    assert (made.base / "etc").is_dir() and (ws.chroots / f"{made.base.name}.json").is_file()


def test_running_a_command_needs_root(monkeypatch, tmp_path):
    monkeypatch.setattr(chroot.os, "geteuid", lambda: 1000)
    with pytest.raises(L2wgError, match="needs root"):
        chroot.ensure(spec(), Workspace(tmp_path), silent(), tmp_path / "log")


# A real session, in a chroot of one static busybox: no network needed --------

BUSYBOX = Path("/bin/busybox")


def mounts() -> str:
    return Path("/proc/self/mounts").read_text()


@pytest.mark.skipif(os.geteuid() != 0 or not BUSYBOX.exists() or not shutil.which("unshare"),
                    reason="needs root, unshare and busybox-static")
def test_a_session_writes_only_its_own_layer_and_leaves_no_mount(tmp_path):
    base = tmp_path / "chroots" / "tiny"
    for sub in ("bin", "usr/bin", "proc", "dev", "etc"):
        (base / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, base / "bin" / "busybox")
    for applet in ("sh", "cat", "ls", "grep", "echo", "rm"):
        (base / "bin" / applet).symlink_to("busybox")
    (base / "usr" / "bin" / "env").symlink_to("/bin/busybox")
    (base / "etc" / "motd").write_text("from the base\n")
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    (exchange / "in.txt").write_text("from the host\n")
    tiny = chroot.Chroot(chroot.ChrootSpec(chroot.Suite("sid"), ()), base)
    session = chroot.Session(tiny, tmp_path / "session",
                             (chroot.Bind(exchange, "/l2wg", read_only=False),)).start()
    before = mounts()
    done = session.run(["sh", "-c", "cat /etc/motd /l2wg/in.txt; echo changed > /etc/motd; "
                        "rm /bin/rm; echo out > /l2wg/out.txt; grep -c ' /proc ' /proc/mounts; "
                        'echo "PATH=$PATH HOME=$HOME"'], tmp_path / "log", what="tiny")
    assert "from the base" in done.output and "from the host" in done.output
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root" \
        in done.output                                  # the host's environment stays out
    assert (exchange / "out.txt").read_text() == "out\n"
    # Every write went to the session's upper layer; the base is as it was.
    assert (base / "etc" / "motd").read_text() == "from the base\n"
    assert (base / "bin" / "rm").is_symlink()
    assert (session.upper / "etc" / "motd").read_text() == "changed\n"
    # The next command of the session sees what the last one wrote.
    again = session.run(["cat", "/etc/motd"], tmp_path / "log", what="tiny again")
    assert again.output == "changed\n"
    assert mounts() == before                           # nothing stayed mounted on the host
    log = (tmp_path / "log").read_text()
    assert log.startswith("$ unshare --mount --propagation private -- sh -euc ")
    session.close()
    assert not session.path.exists() and base.is_dir()
    failed = chroot.Session(tiny, tmp_path / "s2").start().run(
        ["sh", "-c", "echo broken; exit 3"], tmp_path / "log", what="a failing step", check=False)
    assert failed.returncode == 3 and mounts() == before
    with pytest.raises(L2wgError, match=r"a failing step failed \(exit 3\)"):
        chroot.Session(tiny, tmp_path / "s3").start().run(["sh", "-c", "exit 3"],
                                                          tmp_path / "log", what="a failing step")
    assert subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True,
                          text=True).stdout.count(str(tmp_path)) == 0
