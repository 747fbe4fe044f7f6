"""kernels.toml: the shipped matrix loads, and every kind of mistake names its entry."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from l2wg.errors import L2wgError
from l2wg.kernels import load_matrix

GOOD = """
default = "a"
[kernels.a]
version = "6.12"
source = { type = "debian", package = "linux-source-6.12" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kernels.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_matrix_has_the_promised_lines(project):
    matrix = project.matrix()
    assert {"6.12", "6.1", "6.6", "6.8", "mainline"} <= set(matrix.kernels)
    assert matrix.get("6.12").source.type == "debian"
    assert matrix.get("6.6").source.type == "tarball"
    assert matrix.get("mainline").source.type == "git"
    offline = [k.name for k in matrix.select()]
    assert offline == ["6.12", "6.1"]
    assert matrix.get("6.1.170").line == "6.1"


def test_defaults_apply(tmp_path):
    path = write(tmp_path, GOOD + '[defaults]\nfragments = ["base"]\narch = "arm64"\n')
    kernel = load_matrix(path).get("a")
    assert kernel.fragments == ("base",)
    assert kernel.arch == "arm64"


@pytest.mark.parametrize("extra, message", [
    ('sha = "x"\n', 'kernels."a"]: unknown key \'sha\''),
    ('version = "six"\n', "bad version 'six'"),
    ('expect = { build = "yes" }\n', "expect.build: must be true or false"),
    ('expect = { xfail = ["ping"] }\n', "expect.xfail: must map check names to reasons"),
    ('fragments = ["nope"]\n', "no fragment 'nope'"),
])
def test_bad_entry_is_named(tmp_path, extra, message):
    text = GOOD.replace('version = "6.12"\n', "") + extra
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "base.config").write_text("")
    with pytest.raises(L2wgError) as err:
        load_matrix(write(tmp_path, text), tmp_path / "ci")
    assert message in str(err.value)


@pytest.mark.parametrize("source, message", [
    ('{ type = "debian" }', "missing key 'package'"),
    ('{ type = "ftp", url = "x" }', "unknown source type 'ftp'"),
    ('{ type = "tarball", url = "https://x/l.tar.xz" }', "needs 'sha256' or 'checksums'"),
    ('{ type = "tarball", url = "https://x/l.tar.xz", sha256 = "abc" }', "64 lowercase hex"),
    ('{ type = "git", url = "https://x/l.git" }', "missing key 'ref'"),
])
def test_bad_source_is_named(tmp_path, source, message):
    text = f'[kernels.b]\nsource = {source}\n'
    with pytest.raises(L2wgError) as err:
        load_matrix(write(tmp_path, text))
    assert '[kernels."b"].source' in str(err.value)
    assert message in str(err.value)


def test_unknown_kernel_lists_known(tmp_path):
    matrix = load_matrix(write(tmp_path, GOOD))
    with pytest.raises(L2wgError, match="unknown kernel '9.9'.*has: a"):
        matrix.get("9.9")


def test_not_toml(tmp_path):
    with pytest.raises(L2wgError, match="not valid TOML"):
        load_matrix(write(tmp_path, "[kernels\n"))


def test_loopback_sources_count_as_offline(tmp_path):
    text = ('[kernels.t]\nsource = { type = "tarball", url = "http://127.0.0.1:8000/l.tar.xz",'
            ' sha256 = "' + "0" * 64 + '" }\n')
    assert not load_matrix(write(tmp_path, text)).get("t").source.needs_network


def test_set_canonical_keeps_the_rest_of_the_file(tmp_path):
    from l2wg.kernels import set_canonical

    text = ('# the matrix\ndefault = "6.12"\ncanonical = "6.12"  # made on\n\n'
            '[kernels."6.12"]\nsource = { type = "local", path = "/a" }\n\n'
            '[kernels."7.3"]\nsource = { type = "local", path = "/b" }\n')
    path = tmp_path / "kernels.toml"
    path.write_text(text)
    set_canonical(path, "7.3")
    assert path.read_text() == text.replace('canonical = "6.12"  # made on', 'canonical = "7.3"')
    assert load_matrix(path).canonical == "7.3"
    path.write_text(text.replace('canonical = "6.12"  # made on\n', ""))
    set_canonical(path, "7.3")
    assert 'default = "6.12"\ncanonical = "7.3"\n' in path.read_text()
    with pytest.raises(L2wgError, match="cannot make '9.9' canonical"):
        set_canonical(path, "9.9")
    assert load_matrix(path).canonical == "7.3"
