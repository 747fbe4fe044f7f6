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
    assert offline == ["7.3", "7.2", "6.12", "6.1"]
    assert matrix.get("6.1.170").line == "6.1"


def test_shipped_matrix_is_canonical_on_the_newest_line(project):
    """The series is made on the newest line Debian ships, which is also the default."""
    from l2wg.kernels import DkmsHeaders

    matrix = project.matrix()
    newest = max(matrix.select(), key=lambda k: tuple(map(int, k.line.split("."))))
    assert matrix.canonical == newest.name == matrix.default == "7.3"
    for name, suite, headers in (("7.3", "trixie-backports", "linux-headers-7.3.4+deb13-amd64"),
                                 ("7.2", "sid", "linux-headers-7.2.13+deb14-amd64")):
        kernel = matrix.get(name)
        assert kernel.version == name and kernel.ci
        assert kernel.source.package == f"linux-source-{name}"
        assert kernel.source.suite == suite
        assert kernel.source.archive == matrix.debian
        assert kernel.dkms_headers == (DkmsHeaders(headers, suite),)
    assert matrix.get("6.12").source.suite is None      # the host's apt sources, as before
    assert matrix.debian.mirror == "http://deb.debian.org/debian"
    assert set(matrix.debian.suites) == {"trixie", "trixie-backports", "sid", "bookworm-backports"}
    assert matrix.debian.host


def test_defaults_apply(tmp_path):
    path = write(tmp_path, GOOD + '[defaults]\nfragments = ["base"]\narch = "x86_64"\n')
    kernel = load_matrix(path).get("a")
    assert kernel.fragments == ("base",)
    assert kernel.arch == "x86_64"


def test_the_arches_kernels_toml_accepts_are_the_ones_l2wg_builds_and_boots():
    """arch is validated against what build.py has an image for and qemu.py can boot."""
    from l2wg import build, qemu
    from l2wg.kernels import ARCHES

    assert ARCHES == ("x86_64",)
    assert all(arch in build.IMAGE for arch in ARCHES)
    assert qemu.QEMU == "qemu-system-x86_64"


ENTRY = '[kernels."6.8"]\nversion = "6.8"\nsource = { type = "debian", package = "linux-source-6.8" }\n'


# Every key of kernels.toml given a value of the wrong type: one line naming the entry
# and the key, never a traceback.
@pytest.mark.parametrize("text, message", [
    ("kernels = []", '[kernels]: must be a table of kernel entries ([kernels."6.12"] ...), '
                     "not an array"),
    ('kernels = "6.12"', '[kernels]: must be a table of kernel entries ([kernels."6.12"] ...), '
                         'not "6.12"'),
    ("kernels = [1]", "[kernels]: must be a table of kernel entries"),
    ("[kernels]", "[kernels]: no kernel entries"),
    ('kernels = { "6.8" = 1 }', '[kernels."6.8"]: must be a table, not 1'),
    ('kernels = { "6.8" = "debian" }', '[kernels."6.8"]: must be a table, not "debian"'),
    ("default = 6.8\n" + ENTRY, 'default: must be a string naming a [kernels] entry, not 6.8 '
                                '(quote it: default = "6.8")'),
    ("default = []\n" + ENTRY, "default: must be a string naming a [kernels] entry, not an array"),
    ('default = "6.9"\n' + ENTRY, "default: '6.9' is not one of the [kernels] entries (6.8)"),
    ("canonical = true\n" + ENTRY, "canonical: must be a string naming a [kernels] entry, "
                                   "not true"),
    ('canonical = { name = "6.8" }\n' + ENTRY, "canonical: must be a string naming a [kernels] "
                                               "entry, not a table"),
    ('defaults = "base"\n' + ENTRY, '[defaults]: must be a table, not "base"'),
    ("defaults = []\n" + ENTRY, "[defaults]: must be a table, not an array"),
    ('[defaults]\nfragments = "base"\n' + ENTRY, '[defaults].fragments: must be a list of '
                                                  'fragment names such as ["base", "checks"]'),
    ('[defaults]\narch = "arm64"\n' + ENTRY, '[defaults].arch: must be "x86_64", not "arm64"'),
    ('[defaults]\nllvm = true\n' + ENTRY, "[defaults]: unknown key 'llvm' (allowed: arch, "
                                           "fragments)"),
    ("debian = 1\n" + ENTRY, "[debian]: must be a table, not 1"),
    ('debian = "sid"\n' + ENTRY, '[debian]: must be a table, not "sid"'),
    ("guest = []\n" + ENTRY, "[guest]: must be a table, not an array"),
    ("[debian]\nmirror = 5\n" + ENTRY, "[debian].mirror: must be an http://, https:// or file:/ "
                                        "URL, not 5"),
    ("[debian]\nkeyring = []\n" + ENTRY, "[debian].keyring: must be a non-empty string (a "
                                          "keyring file), not an array"),
    ("[debian]\nsuites = 5\n" + ENTRY, '[debian].suites: must be a list of suite names: '
                                        '["sid", ...], not 5'),
    ("[debian]\nhost = 1\n" + ENTRY, "[debian].host: must be true or false, not 1"),
    ("[guest]\nwireguard-tools = { suite = 5 }\n" + ENTRY,
     "[guest].wireguard-tools.suite: bad suite name 5"),
    ("[guest]\nwireguard-tools = { suite = [\"sid\"] }\n" + ENTRY,
     "[guest].wireguard-tools.suite: bad suite name an array"),
    (ENTRY + 'fragments = "base"\n', '[kernels."6.8"].fragments: must be a list of fragment '
                                     'names such as ["base", "checks"] (files in ci/kconfig/), '
                                     'not "base"'),
    (ENTRY + "fragments = [1]\n", '[kernels."6.8"].fragments: must be a list of fragment names'),
    (ENTRY + 'fragments = [""]\n', '[kernels."6.8"].fragments: must be a list of fragment names'),
    (ENTRY + 'arch = "arm64"\n', '[kernels."6.8"].arch: must be "x86_64", not "arm64": the kbuild '
                                 "ARCH l2wg both builds and boots (its QEMU guest is "
                                 "qemu-system-x86_64"),
    (ENTRY + 'arch = "i386"\n', '[kernels."6.8"].arch: must be "x86_64", not "i386"'),
    (ENTRY + 'arch = ["x86_64"]\n', '[kernels."6.8"].arch: must be "x86_64", not an array'),
    (ENTRY + "arch = 64\n", '[kernels."6.8"].arch: must be "x86_64", not 64'),
    (ENTRY + 'expect = "pass"\n', '[kernels."6.8"].expect: must be a table, not "pass"'),
    (ENTRY + "expect = { boot = 1 }\n", '[kernels."6.8"].expect.boot: must be true or false, '
                                        "not 1"),
    (ENTRY + "expect = { xfail = { ping = 2 } }\n", '[kernels."6.8"].expect.xfail: must map '
                                                    "check names to reasons"),
    (ENTRY + 'ci = "no"\n', '[kernels."6.8"].ci: must be true or false, not "no"'),
    (ENTRY + "min_version = 6.1\n", '[kernels."6.8"].min_version: must be a string such as '
                                    '"6.12", not 6.1 (quote it)'),
    (ENTRY + 'dkms_headers = { package = "linux-headers-6.8" }\n',
     '[kernels."6.8"].dkms_headers: must be a list of package names or { package = "...", '
     'suite = "..." } tables, not a table'),
    (ENTRY + "dkms_headers = [{ package = 5 }]\n",
     '[kernels."6.8"].dkms_headers[0].package: must be a non-empty string, not 5'),
    ('[kernels."6.8"]\nsource = "debian"\n', '[kernels."6.8"].source: must be a table such as '
                                             '{ type = "debian", package = "linux-source-6.12" }, '
                                             'not "debian"'),
    ('[kernels."6.8"]\nsource = { type = [] }\n', '[kernels."6.8"].source.type: must be one of '
                                                  "debian, tarball, git or local, not an array"),
    ('[kernels."6.8"]\nsource = { type = "debian", package = 5 }\n',
     '[kernels."6.8"].source.package: must be a non-empty string, not 5'),
    ('[kernels."6.8"]\nsource = { type = "local", path = ["/src"] }\n',
     '[kernels."6.8"].source.path: must be a non-empty string, not an array'),
    ('[kernels."6.8"]\nsource = { type = "tarball", url = "http://x/l.tar.xz", checksums = '
     '"http://x/sha256sums.asc", keyring = 1 }\n',
     '[kernels."6.8"].source.keyring: must be a non-empty string, not 1'),
    ('[kernels."6.8"]\nsource = { type = "tarball", url = "http://x/l.tar.xz", sha256 = "'
     + "0" * 64 + '", keyring = "k.gpg" }\n',
     '[kernels."6.8"].source.keyring: goes with \'checksums\''),
])
def test_a_value_of_the_wrong_type_is_one_line_naming_entry_and_key(tmp_path, text, message):
    from l2wg.errors import BadInput

    with pytest.raises(BadInput) as err:
        load_matrix(write(tmp_path, text))
    assert str(err.value).startswith(f"kernels.toml: {message}")
    assert "\n" not in str(err.value)


def test_a_checksum_list_is_checked_against_the_shipped_kernel_org_keys(tmp_path, project):
    """Without a keyring of its own, a tarball's checksums must be signed by ci/keys/."""
    text = ('[kernels.t]\nsource = { type = "tarball", url = "http://127.0.0.1:1/l.tar.xz", '
            'checksums = "http://127.0.0.1:1/sha256sums.asc" }\n'
            '[kernels.u]\nsource = { type = "tarball", url = "http://127.0.0.1:1/l.tar.xz", '
            'checksums = "http://127.0.0.1:1/sha256sums.asc", keyring = "keys/test.gpg" }\n')
    matrix = load_matrix(write(tmp_path, text))
    assert matrix.get("t").source.keyring == tmp_path / "ci" / "keys" / "kernel.org.gpg"
    assert matrix.get("u").source.keyring == tmp_path / "keys" / "test.gpg"
    shipped = project.matrix()
    for name in ("6.6", "6.8"):
        assert shipped.get(name).source.keyring == project.root / "ci/keys/kernel.org.gpg"


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
    ('{ type = "debian", package = "linux-source-7.3", suite = "" }',
     "source.suite: must be a non-empty string"),
    ('{ type = "debian", package = "linux-source-7.3", suite = 13 }',
     "source.suite: must be a non-empty string"),
    ('{ type = "debian", package = "linux-source-7.3", suite = "trixie backports" }',
     "source.suite: bad suite name 'trixie backports'"),
    ('{ type = "debian", package = "linux-source-7.3", suit = "sid" }',
     "unknown key 'suit' (allowed: package, suite, type, version)"),
    ('{ type = "tarball", url = "https://x/l.tar.xz", sha256 = "abc", suite = "sid" }',
     "unknown key 'suite'"),
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


@pytest.mark.parametrize("table, message", [
    ('mirrors = "x"', "[debian]: unknown key 'mirrors' (allowed: host, keyring, mirror, suites)"),
    ('suites = "sid"', '[debian].suites: must be a list of suite names'),
    ('suites = ["sid", ""]', '[debian].suites: must be a list of suite names'),
    ('suites = ["sid", "Sid!"]', "[debian].suites: bad suite name 'Sid!'"),
    ('suites = ["sid", "sid"]', "[debian].suites: lists a suite twice"),
    ('mirror = "deb.debian.org/debian"', "[debian].mirror: must be an http://, https:// or file:/"),
    ('keyring = ""', "[debian].keyring: must be a non-empty string"),
    ('host = "yes"', "[debian].host: must be true or false"),
])
def test_bad_debian_table_is_named(tmp_path, table, message):
    with pytest.raises(L2wgError) as err:
        load_matrix(write(tmp_path, GOOD + f"[debian]\n{table}\n"))
    assert str(err.value).startswith(f"kernels.toml: {message}")


def test_debian_table_and_suites(tmp_path):
    text = GOOD + ('[debian]\nmirror = "http://127.0.0.1:8/debian/"\nkeyring = "k.gpg"\n'
                   'suites = ["sid"]\nhost = false\n'
                   '[kernels.b]\nsource = { type = "debian", package = "linux-source-7.2", '
                   'suite = "sid" }\n')
    matrix = load_matrix(write(tmp_path, text))
    assert matrix.debian.mirror == "http://127.0.0.1:8/debian"
    assert matrix.debian.keyring == tmp_path / "k.gpg"      # relative to kernels.toml
    assert matrix.debian.suites == ("sid",) and not matrix.debian.host
    b = matrix.get("b")
    assert b.source.archive == matrix.debian and b.source.suite == "sid"
    assert b.source.describe() == "debian:linux-source-7.2/sid"
    assert b.where == 'kernels.toml: [kernels."b"]'
    assert matrix.get("a").source.archive is None


# l2wg kernels --available, against the test archive on 127.0.0.1 ------------------

def available_project(tmp_path: Path, archive, suites: str = '["l2wg-test", "l2wg-next"]',
                      headers: str = "") -> Path:
    project = tmp_path / "project"
    (project / "ci" / "kconfig").mkdir(parents=True, exist_ok=True)
    for fragment in ("base", "checks"):
        (project / "ci" / "kconfig" / f"{fragment}.config").write_text("")
    (project / "kernels.toml").write_text(f'''
[debian]
mirror = "{archive.mirror}"
keyring = "{archive.keyring}"
suites = {suites}
host = false

[kernels."9.9"]
version = "9.9"
source = {{ type = "debian", package = "linux-source-9.9", suite = "l2wg-test" }}

[kernels."9.9.1"]
version = "9.9.1"
source = {{ type = "debian", package = "linux-source-9.9", version = "9.9.1-1", suite = "l2wg-test" }}
ci = false
{headers}
''')
    return project


def test_kernels_available_marks_lines_not_in_the_matrix(debian_server, tmp_path, capsys):
    from l2wg import cli

    _, archive = debian_server
    common = ["--project", str(available_project(tmp_path, archive)),
              "--workspace", str(tmp_path / "ws")]
    assert cli.main(["kernels", "--available", *common]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["line", "newest", "suite", "in", "kernels.toml", "also", "in"]
    assert lines[1].split() == ["10.1", "10.1.3-1", "l2wg-next", "NEW", "(not", "in", "the",
                                "matrix)"]
    assert lines[2].split() == ["9.9", "9.9.2-1", "l2wg-test", "9.9,", "9.9.1", "l2wg-next",
                                "9.9.0-1~bpo+1"]
    assert lines[3] == "2 line(s); not in kernels.toml: 10.1"
    assert lines[4].startswith("l2wg's lists fetched: l2wg-next 2")
    # Plain `l2wg kernels` is the matrix, as before.
    assert cli.main(["kernels", *common]) == 0
    out = capsys.readouterr().out
    assert "debian:linux-source-9.9/l2wg-test" in out
    assert "debian:linux-source-9.9=9.9.1-1/l2wg-test" in out
    # --refresh updates l2wg's own lists again (once per suite), never the host's.
    log = tmp_path / "ws" / "logs" / "kernels-available.log"
    log.write_text("")
    assert cli.main(["kernels", "--available", "--refresh", *common]) == 0
    updates = [ln for ln in log.read_text().splitlines() if ln.startswith("$ apt-get")]
    assert len(updates) == 2 and all("Dir::State::Lists=" in ln for ln in updates)


def test_kernels_available_names_dkms_headers_their_suite_has_a_newer_one_of(
        debian_server, tmp_path, capsys):
    from l2wg import cli

    _, archive = debian_server

    def listed(pin: str) -> list[str]:
        project = available_project(
            tmp_path, archive,
            headers=f'dkms_headers = [{{ package = "{pin}", suite = "l2wg-test" }}]')
        assert cli.main(["kernels", "--available", "--project", str(project),
                         "--workspace", str(tmp_path / "ws")]) == 0
        return [ln for ln in capsys.readouterr().out.splitlines() if "dkms_headers" in ln]

    # 9.9.2's headers are pinned, and the suite has 9.9.3's (9.9.4 is -rt-amd64)
    assert listed("linux-headers-9.9.2-test-amd64") == [
        "9.9.1: dkms_headers linux-headers-9.9.2-test-amd64 is not l2wg-test's newest: "
        "linux-headers-9.9.3-test-amd64 (9.9.3-1)"]
    # pinned to the newest: nothing to say
    assert listed("linux-headers-9.9.3-test-amd64") == []


def test_kernels_available_reports_a_suite_it_cannot_ask(debian_server, tmp_path, capsys):
    from l2wg import cli

    _, archive = debian_server
    project = available_project(tmp_path, archive, '["l2wg-test", "l2wg-nope"]')
    status = cli.main(["kernels", "--available", "--project", str(project),
                       "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert status == 4                                   # a fetch failure
    assert "9.9.2-1" in captured.out                     # the other suites are still listed
    assert captured.err.startswith("l2wg: error: the Debian suite 'l2wg-nope': there is no "
                                   "such suite at ")
    assert captured.err.count("\n") == 1


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


def test_the_integration_tests_cover_the_newest_and_the_oldest_line(project):
    from conftest import INTEGRATION_KERNELS

    def key(kernel):
        return tuple(map(int, kernel.line.split(".")))

    offline = project.matrix().select()
    assert INTEGRATION_KERNELS[0] == max(offline, key=key).name
    assert INTEGRATION_KERNELS[-1] == min(offline, key=key).name
    assert set(INTEGRATION_KERNELS) <= {k.name for k in offline}


@pytest.mark.parametrize("table, message", [
    ('wireguard-tool = { suite = "sid" }', "[guest]: unknown key 'wireguard-tool'"),
    ('wireguard-tools = "sid"', '[guest].wireguard-tools: must be a table, not "sid"'),
    ('wireguard-tools = { }', "[guest].wireguard-tools: missing key 'suite'"),
    ('wireguard-tools = { suite = "Sid!" }', "[guest].wireguard-tools.suite: bad suite name"),
])
def test_bad_guest_table_is_named(tmp_path, table, message):
    with pytest.raises(L2wgError) as err:
        load_matrix(write(tmp_path, GOOD + f"[guest]\n{table}\n"))
    assert str(err.value).startswith(f"kernels.toml: {message}")


def test_guest_table(tmp_path):
    matrix = load_matrix(write(tmp_path, GOOD + '[guest]\nwireguard-tools = { suite = "sid" }\n'))
    assert matrix.guest.wireguard_tools_suite == "sid"
    assert load_matrix(write(tmp_path, GOOD)).guest.wireguard_tools_suite is None


@pytest.mark.parametrize("table, message", [
    ('spars = { suite = "sid" }', "[tools]: unknown key 'spars'"),
    ('sparse = "sid"', '[tools].sparse: must be a table, not "sid"'),
    ('sparse = { suite = "sid", version = "1" }', "[tools].sparse: unknown key 'version'"),
    ('sparse = { suite = "Sid!" }', "[tools].sparse.suite: bad suite name"),
])
def test_bad_tools_table_is_named(tmp_path, table, message):
    with pytest.raises(L2wgError) as err:
        load_matrix(write(tmp_path, GOOD + f"[tools]\n{table}\n"))
    assert str(err.value).startswith(f"kernels.toml: {message}")


def test_tools_table(tmp_path):
    matrix = load_matrix(write(tmp_path, GOOD + '[tools]\nsparse = { suite = "sid" }\n'))
    assert matrix.tools.sparse_suite == "sid"
    assert load_matrix(write(tmp_path, GOOD)).tools.sparse_suite is None
