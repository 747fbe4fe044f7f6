"""Sources and trees: kernel.org tarballs from a local HTTP server on 127.0.0.1,
git sources from a local repository, the cache's atomicity, and series
application onto the imported tree.  Debian packages: integration tests."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import debian_repo
import pytest

from l2wg import sources, store, tree
from l2wg.errors import FetchError, L2wgError
from l2wg.kernels import Kernel, SourceSpec
from l2wg.series import Patch

MAKEFILE = "VERSION = 6\nPATCHLEVEL = 8\nSUBLEVEL = 0\nEXTRAVERSION =\nNAME = test\n"


def fake_kernel(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "Makefile").write_text(MAKEFILE)
    (root / "Kconfig").write_text('config NET\n\tbool "net"\n')
    driver = root / "drivers/net/wireguard"
    driver.mkdir(parents=True)
    (driver / "device.c").write_text("".join(f"line {i}\n" for i in range(20)))
    return root


@pytest.fixture
def served(tmp_path):
    """A directory served over HTTP on 127.0.0.1, holding linux-6.8.tar.xz and sha256sums."""
    docroot = tmp_path / "www"
    docroot.mkdir()
    tree_dir = fake_kernel(tmp_path / "src" / "linux-6.8")
    tarball = docroot / "linux-6.8.tar.xz"
    with tarfile.open(tarball, "w:xz") as tar:
        tar.add(tree_dir, arcname="linux-6.8")
    digest = store.sha256_file(tarball)
    server = debian_repo.Server(docroot)
    yield server.url, digest, docroot
    server.stop()


def tarball_kernel(url: str, **checks) -> Kernel:
    spec = SourceSpec(type="tarball", url=f"{url}/linux-6.8.tar.xz", **checks)
    return Kernel(name="6.8", source=spec, version="6.8")


def test_tarball_is_downloaded_verified_and_reused(served, ws, quiet):
    url, digest, docroot = served
    kernel = tarball_kernel(url, sha256=digest)
    first = sources.fetch(kernel, ws, quiet)
    assert first.kind == "archive" and store.sha256_file(first.path) == digest
    (docroot / "linux-6.8.tar.xz").unlink()          # a cache hit needs no server
    assert sources.fetch(kernel, ws, quiet).path == first.path


# kernel.org's sha256sums.asc: a cleartext-signed list, checked with gpgv -----------

def clearsign(key, text: str) -> str:
    """*text* signed as kernel.org signs sha256sums.asc (gpg --clearsign), by *key*."""
    import debian_repo

    return debian_repo.run("gpg", "--batch", "--homedir", key.home, "--pinentry-mode",
                           "loopback", "--passphrase", "", "--local-user", key.fingerprint,
                           "--clearsign", input=text.encode()).decode()


def checksum_list(digest: str) -> str:
    return f"{'1' * 64}  linux-6.7.tar.xz\n{digest}  linux-6.8.tar.xz\n"


def signed_kernel(url: str, keyring: Path) -> Kernel:
    return tarball_kernel(url, checksums=f"{url}/sha256sums.asc", keyring=keyring)


def nothing_cached(ws) -> bool:
    tarballs = ws.sources / "tarballs"
    return not tarballs.exists() or not list(tarballs.iterdir())


def test_signed_checksum_list_is_verified_and_used(served, ws, quiet, debian_keys):
    url, digest, docroot = served
    key = debian_keys["good"]
    (docroot / "sha256sums.asc").write_text(clearsign(key, checksum_list(digest)))
    source = sources.fetch(signed_kernel(url, key.keyring), ws, quiet)
    assert source.ident.endswith(digest)
    log = (ws.logs / "source-6.8.log").read_text()
    assert "$ gpgv --homedir " in log
    assert f"sha256sums.asc: good signature by good <good@l2wg.invalid> ({key.fingerprint})" \
        in log


@pytest.mark.parametrize("case, message", [
    ("unsigned", "signature not accepted: it is not signed (no OpenPGP signature in it)"),
    ("other key", "signature not accepted: signed by key "),
    ("altered", "signature not accepted: BAD signature by good <good@l2wg.invalid>"),
    ("appended", "sha256sums.asc lists no sha256 for linux-6.8.tar.xz in its signed part"),
])
def test_a_checksum_list_without_a_good_signature_is_one_error_and_caches_nothing(
        served, ws, quiet, debian_keys, case, message):
    url, digest, docroot = served
    good, other = debian_keys["good"], debian_keys["other"]
    if case == "unsigned":
        text = checksum_list(digest)
    elif case == "other key":
        text = clearsign(other, checksum_list(digest))
    elif case == "altered":                       # a digest swapped after signing
        text = clearsign(good, checksum_list("2" * 64)).replace("2" * 64, digest)
    else:                                         # a line added outside the signed part
        text = clearsign(good, f"{'1' * 64}  linux-6.7.tar.xz\n") + \
            f"{digest}  linux-6.8.tar.xz\n"
    (docroot / "sha256sums.asc").write_text(text)
    with pytest.raises(FetchError) as err:
        sources.fetch(signed_kernel(url, good.keyring), ws, quiet)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(f"{url}/sha256sums.asc")
    if case == "other key":
        assert f"which is not in {good.keyring}" in str(err.value)
    assert err.value.log == ws.logs / "source-6.8.log"
    assert nothing_cached(ws)


def test_without_the_keyring_or_gpgv_nothing_is_fetched(served, ws, quiet, debian_keys,
                                                          tmp_path, monkeypatch):
    from l2wg.errors import BadInput, MissingTool

    url, digest, docroot = served
    (docroot / "sha256sums.asc").write_text(clearsign(debian_keys["good"], checksum_list(digest)))
    with pytest.raises(BadInput, match=r"no keyring .*/missing.gpg to check the signature of "
                                       r".*/sha256sums.asc with \(the kernel.org keys: see "
                                       r"ci/keys/README.md\)"):
        sources.fetch(signed_kernel(url, tmp_path / "missing.gpg"), ws, quiet)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingTool, match="gpgv: command not found"):
        sources.fetch(signed_kernel(url, debian_keys["good"].keyring), ws, quiet)
    assert nothing_cached(ws)


def test_cli_a_bad_signature_exits_as_a_fetch_failure(served, tmp_path, capsys, debian_keys):
    from l2wg import cli

    url, digest, docroot = served
    (docroot / "sha256sums.asc").write_text(clearsign(debian_keys["other"],
                                                      checksum_list(digest)))
    project = tmp_path / "project"
    (project / "ci" / "kconfig").mkdir(parents=True)
    for fragment in ("base", "checks"):
        (project / "ci" / "kconfig" / f"{fragment}.config").write_text("")
    (project / "patches").mkdir()
    (project / "patches" / "series").write_text("")
    (project / "kernels.toml").write_text(
        f'[kernels."6.8"]\nversion = "6.8"\nsource = {{ type = "tarball", url = '
        f'"{url}/linux-6.8.tar.xz", checksums = "{url}/sha256sums.asc", keyring = '
        f'"{debian_keys["good"].keyring}" }}\n')
    status = cli.main(["build", "6.8", "--project", str(project), "--workspace",
                       str(tmp_path / "ws"), "-q"])
    err = capsys.readouterr().err
    assert status == 4 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"l2wg: error: {url}/sha256sums.asc: signature not accepted: signed "
                          "by key ")
    assert not (tmp_path / "ws" / "sources" / "tarballs" / "linux-6.8.tar.xz").exists()


def test_sha256_mismatch_fails_and_caches_nothing(served, ws, quiet):
    url, _, _ = served
    kernel = tarball_kernel(url, sha256="0" * 64)
    with pytest.raises(L2wgError, match="sha256 mismatch") as err:
        sources.fetch(kernel, ws, quiet)
    assert err.value.log is not None
    assert not list((ws.sources / "tarballs").glob("*"))


def test_corrupt_cache_entry_is_fetched_again(served, ws, quiet):
    url, digest, _ = served
    kernel = tarball_kernel(url, sha256=digest)
    cached = sources.fetch(kernel, ws, quiet).path
    cached.write_bytes(b"truncated")
    assert store.sha256_file(sources.fetch(kernel, ws, quiet).path) == digest


def test_unreachable_source_is_one_clear_error(ws, quiet):
    kernel = tarball_kernel("http://127.0.0.1:9", sha256="0" * 64)
    with pytest.raises(L2wgError, match=r"cannot fetch http://127.0.0.1:9/linux-6.8.tar.xz"):
        sources.fetch(kernel, ws, quiet)


def test_tarball_tree_import_checks_the_version(served, ws, quiet):
    url, digest, _ = served
    kernel = tarball_kernel(url, sha256=digest)
    source = sources.fetch(kernel, ws, quiet)
    imported = tree.ensure_pristine(kernel, source, ws, quiet)
    assert imported.version == "6.8"
    assert (imported.path / "drivers/net/wireguard/device.c").exists()
    wrong = Kernel(name="6.9", source=kernel.source, version="6.9")
    with pytest.raises(L2wgError, match="source is version 6.8, but kernels.toml declares 6.9"):
        tree.ensure_pristine(wrong, source, ws, quiet)
    assert not ws.tree("6.9").exists()


# git sources ------------------------------------------------------------------

def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                          "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                                          "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}).stdout


@pytest.fixture
def upstream(tmp_path):
    """A local 'upstream' kernel repository with a tag v6.8 and a patch made against it."""
    repo = fake_kernel(tmp_path / "upstream")
    git(repo, "init", "-q", "-b", "master")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Linux 6.8")
    git(repo, "tag", "v6.8")
    device = repo / "drivers/net/wireguard/device.c"
    device.write_text(device.read_text().replace("line 5\n", "line 5 changed\n"))
    git(repo, "commit", "-qam", "wireguard: change line 5")
    git(repo, "format-patch", "-q", "-1", "-o", str(tmp_path / "patches"))
    git(repo, "reset", "-q", "--hard", "v6.8")
    return repo


def git_kernel(repo: Path) -> Kernel:
    return Kernel(name="6.8", source=SourceSpec(type="git", url=f"file://{repo}", ref="v6.8"),
                  version="6.8")


def test_git_source_tree_and_series(upstream, tmp_path, ws, quiet):
    kernel = git_kernel(upstream)
    source = sources.fetch(kernel, ws, quiet)
    assert source.kind == "git" and source.detail == git(upstream, "rev-parse", "v6.8").strip()
    work = tree.ensure_pristine(kernel, source, ws, quiet)
    patch_file = next((tmp_path / "patches").glob("*.patch"))
    log = tmp_path / "apply.log"
    work = tree.apply_series(work, [Patch(patch_file.name, patch_file)], "d1", log, quiet)
    assert "line 5 changed" in (work.path / "drivers/net/wireguard/device.c").read_text()
    assert list(work.commits) == [patch_file.name]
    assert git(work.path, "log", "-1", "--format=%s").strip() == "wireguard: change line 5"
    again = tree.apply_series(tree.load(work.path), [Patch(patch_file.name, patch_file)], "d1",
                              log, quiet)
    assert again.head == work.head


def test_patch_that_does_not_apply_leaves_tree_as_it_was(upstream, tmp_path, ws, quiet):
    kernel = git_kernel(upstream)
    work = tree.ensure_pristine(kernel, sources.fetch(kernel, ws, quiet), ws, quiet)
    bad = tmp_path / "0001-bad.patch"
    good = next((tmp_path / "patches").glob("*.patch"))
    bad.write_text(good.read_text().replace("-line 5\n", "-line 55\n"))
    before = git(work.path, "rev-parse", "HEAD")
    with pytest.raises(L2wgError, match="patch 0001-bad.patch does not apply to 6.8") as err:
        tree.apply_series(work, [Patch(good.name, good), Patch(bad.name, bad)], "d2",
                          tmp_path / "apply.log", quiet)
    assert err.value.log == tmp_path / "apply.log"
    assert git(work.path, "rev-parse", "HEAD") == before
    assert not (work.path / ".git" / "rebase-apply").exists()
    assert git(work.path, "status", "--porcelain", "--untracked-files=no") == ""


def test_dirty_tree_is_never_overwritten(upstream, tmp_path, ws, quiet):
    kernel = git_kernel(upstream)
    work = tree.ensure_pristine(kernel, sources.fetch(kernel, ws, quiet), ws, quiet)
    device = work.path / "drivers/net/wireguard/device.c"
    device.write_text("my local work\n")
    patch_file = next((tmp_path / "patches").glob("*.patch"))
    with pytest.raises(L2wgError, match="uncommitted changes"):
        tree.apply_series(work, [Patch(patch_file.name, patch_file)], "d3",
                          tmp_path / "apply.log", quiet)
    assert device.read_text() == "my local work\n"


def test_bad_git_ref_is_one_clear_error(upstream, ws, quiet):
    kernel = Kernel(name="x", source=SourceSpec(type="git", url=f"file://{upstream}", ref="v9.9"))
    with pytest.raises(L2wgError, match="cannot clone .* at v9.9"):
        sources.fetch(kernel, ws, quiet)
    assert not list((ws.sources / "git").glob("*"))


# Debian packages (integration: needs the Debian archive) ----------------------

@pytest.mark.integration
def test_debian_source_is_verified_against_the_archive(real_ws, project, quiet):
    kernel = project.matrix().get("6.12")
    source = sources.fetch(kernel, real_ws, quiet)
    record = store.read_json(source.path.with_suffix(".json"))
    assert record and record["sha256"] == store.sha256_file(source.path)
    assert source.ident.startswith("debian:linux-source-6.12=6.12.")


@pytest.mark.integration
def test_unknown_debian_version_is_one_clear_error(real_ws, quiet):
    spec = SourceSpec(type="debian", package="linux-source-6.12", version="6.12.1-9")
    with pytest.raises(L2wgError, match="the Debian archive has no linux-source-6.12=6.12.1-9"):
        sources.fetch(Kernel(name="x", source=spec), real_ws, quiet)


# Debian packages of any suite, from a signed archive on 127.0.0.1 ----------------

def suite_matrix(tmp_path: Path, archive, suite: str = "l2wg-test",
                 package: str = "linux-source-9.9", version: str | None = None) -> Path:
    """A kernels.toml whose [kernels."9.9"] comes from *suite* of the test archive."""
    pinned = f', version = "{version}"' if version else ""
    path = tmp_path / "kernels.toml"
    path.write_text(f'''
[debian]
mirror = "{archive.mirror}"
keyring = "{archive.keyring}"
suites = ["l2wg-test", "l2wg-next"]
host = false

[kernels."9.9"]
version = "9.9"
source = {{ type = "debian", package = "{package}", suite = "{suite}"{pinned} }}
''')
    return path


def test_debian_source_from_a_named_suite(debian_server, ws, quiet, tmp_path):
    from l2wg.kernels import load_matrix

    _, archive = debian_server
    kernel = load_matrix(suite_matrix(tmp_path, archive)).get("9.9")
    source = sources.fetch(kernel, ws, quiet)
    assert source.detail == "9.9.2-1"
    assert source.path == ws.sources / "debian" / "linux-source-9.9_9.9.2-1.tar.xz"
    record = store.read_json(source.path.with_suffix(".json"))
    assert record["sha256"] == store.sha256_file(source.path)
    assert record["suite"] == "l2wg-test" and record["version"] == "9.9.2-1"
    assert source.ident == f"debian:linux-source-9.9=9.9.2-1:{record['deb_sha256']}"
    with tarfile.open(source.path) as tar:
        makefile = tar.extractfile("linux-source-9.9/Makefile").read().decode()
    assert "SUBLEVEL = 2" in makefile
    assert not list((ws.sources / "debian").glob("*.deb"))
    imported = tree.ensure_pristine(kernel, source, ws, quiet)
    assert imported.version == "9.9.2"


@pytest.mark.parametrize("suite, package, version, message", [
    ("l2wg-tset", "linux-source-9.9", None,
     "the Debian suite 'l2wg-tset' has no linux-source-9.9: there is no such suite at {mirror} "
     "(no Release file)"),
    ("l2wg-test", "linux-source-9.7", None, "the Debian suite 'l2wg-test' has no linux-source-9.7"),
    ("l2wg-test", "linux-source-9.9", "9.9.9-1",
     "the Debian suite 'l2wg-test' has no linux-source-9.9=9.9.9-1 (it has: 9.9.2-1, 9.9.1-1)"),
])
def test_missing_suite_or_package_is_one_line_naming_the_entry(debian_server, ws, quiet, tmp_path,
                                                                suite, package, version, message):
    from l2wg.kernels import load_matrix

    _, archive = debian_server
    kernel = load_matrix(suite_matrix(tmp_path, archive, suite, package, version)).get("9.9")
    with pytest.raises(L2wgError) as err:
        sources.fetch(kernel, ws, quiet)
    log = ws.logs / "source-9.9.log"
    assert str(err.value) == (f'kernels.toml: [kernels."9.9"].source: '
                              f'{message.format(mirror=archive.mirror)} (log: {log})')
    assert not list((ws.sources / "debian").glob("*.tar.xz"))


def test_cli_bad_suite_is_one_line_and_no_traceback(debian_server, tmp_path, capsys):
    import shutil

    from l2wg import cli

    _, archive = debian_server
    project = tmp_path / "project"
    (project / "ci" / "kconfig").mkdir(parents=True)
    for fragment in ("base", "checks"):
        (project / "ci" / "kconfig" / f"{fragment}.config").write_text("")
    (project / "patches").mkdir()
    (project / "patches" / "series").write_text("")
    shutil.move(suite_matrix(tmp_path, archive, "trixie-backprots"), project / "kernels.toml")
    status = cli.main(["build", "9.9", "--project", str(project), "--workspace",
                       str(tmp_path / "ws"), "-q"])
    err = capsys.readouterr().err
    assert status == 4                                  # a fetch failure
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith('l2wg: error: kernels.toml: [kernels."9.9"].source: the Debian suite '
                          "'trixie-backprots' has no linux-source-9.9: ")
    assert f"(log: {tmp_path / 'ws' / 'logs' / 'source-9.9.log'})" in err


def test_cached_debian_source_works_offline(debian_server, ws, quiet, tmp_path, monkeypatch):
    from dataclasses import replace

    from l2wg.kernels import load_matrix

    server, archive = debian_server
    kernel = load_matrix(suite_matrix(tmp_path, archive)).get("9.9")
    pinned = replace(kernel, source=replace(kernel.source, version="9.9.1-1"))
    assert sources.last_fetched_version(ws, "linux-source-9.9", kernel.source.suite) is None
    latest = sources.fetch(kernel, ws, quiet)
    assert sources.last_fetched_version(ws, "linux-source-9.9", kernel.source.suite) == \
        latest.detail
    old = sources.fetch(pinned, ws, quiet)
    server.stop()                                   # from here on: no archive
    conf = tmp_path / "apt.conf"                    # (and no waiting for apt's retries)
    conf.write_text('Acquire::Retries "0";\n')
    monkeypatch.setenv("APT_CONFIG", str(conf))
    log = ws.logs / "source-9.9.log"
    log.write_text("")

    # A pinned version: the cached tarball, checked against its record; apt is not asked.
    assert sources.fetch(pinned, ws, quiet) == old
    assert "apt-" not in log.read_text()
    # The newest version: apt answers from l2wg's lists, which are here.
    assert sources.fetch(kernel, ws, quiet) == latest
    # Even without the lists (apt must update, and cannot): the recorded version.
    lists = next((ws.apt).glob("*/l2wg-test/lists"))
    for path in lists.glob("*_*"):
        path.unlink()
    assert sources.fetch(kernel, ws, quiet) == latest
    assert "cannot reach the Debian archive" in log.read_text()

    # "Verified" offline means: the cached file's sha256 equals the recorded one.
    latest.path.write_bytes(b"corrupt")
    with pytest.raises(L2wgError, match=r'\[kernels."9.9"\].source: cannot reach the Debian '
                                        "archive"):
        sources.fetch(kernel, ws, quiet)
    assert not latest.path.exists()
    with pytest.raises(L2wgError, match="cannot reach the Debian archive"):
        sources.fetch(replace(pinned, source=replace(pinned.source, version="9.9.2-1")), ws,
                      quiet)


@pytest.mark.integration
def test_linux_source_7_3_from_trixie_backports(real_ws, project, quiet):
    """The real thing: linux-source-7.3 from trixie-backports (167 MB) through l2wg's
    own apt configuration; the tarball's Makefile says 7.3."""
    kernel = project.matrix().get("7.3")
    assert kernel.source.suite == "trixie-backports"
    source = sources.fetch(kernel, real_ws, quiet)
    assert source.ident.startswith("debian:linux-source-7.3=7.3.")
    record = store.read_json(source.path.with_suffix(".json"))
    assert record and record["sha256"] == store.sha256_file(source.path)
    with tarfile.open(source.path) as tar:
        member = next(m for m in tar if m.name.endswith("/Makefile") and m.name.count("/") == 1)
        head = tar.extractfile(member).read(400).decode()
    assert "VERSION = 7\n" in head and "PATCHLEVEL = 3\n" in head


def test_the_shipped_kernel_org_keyring_holds_only_the_keys_its_readme_names(project, tmp_path):
    """ci/keys/README.md names each key by fingerprint; kernel.org.gpg holds no other."""
    import re
    import subprocess

    keys = project.root / "ci" / "keys"
    readme = (keys / "README.md").read_text()
    listed = set(re.findall(r"`([0-9A-F]{40})`", readme))
    assert {"B8868C80BA62A1FFFAF5FDA9632D3A06589DA6B1",        # the sha256sums.asc autosigner
            "ABAF11C65A2970B130ABE3C479BE3E4300411886",        # Linus Torvalds
            "647F28654894E3BD457199BE38DBBDC86092693E"} == listed
    keyring = keys / "kernel.org.gpg"
    if not keyring.exists():
        assert "Not shipped yet" in readme
        return
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    listing = subprocess.run(["gpg", "--batch", "--homedir", home, "--with-colons",
                              "--show-keys", keyring],
                             capture_output=True, text=True, check=True).stdout
    lines = listing.splitlines()
    primaries = {lines[i + 1].split(":")[9] for i, line in enumerate(lines)
                 if line.startswith("pub:")}
    assert primaries and primaries <= listed
