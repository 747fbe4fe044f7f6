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


# dkms_headers: a package name (the host's suite) or { package, suite } ------------

def test_dkms_headers_name_their_suite(tmp_path):
    from l2wg.kernels import HOST_SUITE, DkmsHeaders

    text = GOOD + ('dkms_headers = ["linux-headers-6.12.117+deb12-amd64",\n'
                   '  { package = "linux-headers-7.2.13+deb14-amd64", suite = "sid" },\n'
                   '  { package = "linux-headers-7.3.4+deb13-amd64", suite = "trixie-backports" },\n'
                   '  { package = "linux-headers-6.1.0-56-amd64" }]\n')
    headers = load_matrix(write(tmp_path, text)).get("a").dkms_headers
    assert headers == (DkmsHeaders("linux-headers-6.12.117+deb12-amd64", HOST_SUITE),
                       DkmsHeaders("linux-headers-7.2.13+deb14-amd64", "sid"),
                       DkmsHeaders("linux-headers-7.3.4+deb13-amd64", "trixie-backports"),
                       DkmsHeaders("linux-headers-6.1.0-56-amd64", "bookworm"))
    assert headers[1].release == "7.2.13+deb14-amd64"
    assert headers[1].describe() == "linux-headers-7.2.13+deb14-amd64/sid"


def test_shipped_dkms_headers_are_bookworms(project):
    for name in ("6.12", "6.1"):
        headers = project.matrix().get(name).dkms_headers
        assert headers and all(h.suite == "bookworm" for h in headers)


@pytest.mark.parametrize("value, where, message", [
    ('"linux-headers-6.12"', "dkms_headers", "must be a list of package names or"),
    ('[1]', "dkms_headers[0]", "must be a package name or"),
    ('["linux-image-6.1.0-56-amd64"]', "dkms_headers[0]", "is not a linux-headers package name"),
    ('[{ suite = "sid" }]', "dkms_headers[0]", "missing key 'package'"),
    ('[{ package = "linux-headers-7.2", release = "sid" }]', "dkms_headers[0]",
     "unknown key 'release'"),
    ('[{ package = "linux-headers-7.2", suite = "Sid!" }]', "dkms_headers[0].suite",
     "bad suite name 'Sid!'"),
    ('[{ package = "linux-image-7.2", suite = "sid" }]', "dkms_headers[0].package",
     "is not a linux-headers package name"),
    ('[{ package = "linux-headers-7.2", suite = "" }]', "dkms_headers[0].suite",
     "must be a non-empty string"),
    ('["linux-headers-6.1", { package = "linux-headers-6.1", suite = "bookworm" }]',
     "dkms_headers[1]", "lists linux-headers-6.1/bookworm twice"),
])
def test_bad_dkms_headers_are_one_line_naming_entry_and_key(tmp_path, value, where, message):
    with pytest.raises(L2wgError) as err:
        load_matrix(write(tmp_path, GOOD + f"dkms_headers = {value}\n"))
    text = str(err.value)
    assert f'kernels.toml: [kernels."a"].{where}: ' in text and message in text
    assert "\n" not in text


def test_headers_on_the_command_line_use_apts_spelling():
    from l2wg.kernels import DkmsHeaders

    assert DkmsHeaders.parse("linux-headers-7.2.13+deb14-amd64/sid") == \
        DkmsHeaders("linux-headers-7.2.13+deb14-amd64", "sid")
    assert DkmsHeaders.parse("linux-headers-6.1.0-55-amd64").suite == "bookworm"
    with pytest.raises(L2wgError, match="--headers linux-image-6.1/sid: 'linux-image-6.1' is not"):
        DkmsHeaders.parse("linux-image-6.1/sid")
    with pytest.raises(L2wgError, match="bad suite name"):
        DkmsHeaders.parse("linux-headers-6.1/Sid")
