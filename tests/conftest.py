"""Shared fixtures.

Unit tests use a temporary workspace.  Integration tests (``-m integration``)
use the real workspace ($L2WG_HOME, default ~/.cache/l2wg) so that sources,
trees and builds are shared with the main job and reused between runs.

Unit tests are hermetic: they read neither $HOME, nor the real workspace,
nor the host's apt lists, and reach nothing but 127.0.0.1, so they pass
under ``unshare -n env HOME=$(mktemp -d) L2WG_HOME=$(mktemp -d)`` (README.md).
A unit test that asks for the real workspace is an error at collection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import loopback
import pytest
from prebuild import Prebuild

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from l2wg.progress import silent  # noqa: E402
from l2wg.project import Project  # noqa: E402
from l2wg.workspace import Workspace  # noqa: E402


#: The kernels the integration tests (and so .ci/run) build, boot and check: the
#: newest line (the one the series is made on), 6.12, and the oldest.  `l2wg ci`
#: covers every ci = true line; test_kernels checks this list against the matrix.
INTEGRATION_KERNELS = ["7.3", "6.12", "6.1"]
#: Each integration kernel as a parameter marked with the build its test needs.
BUILT_KERNELS = [pytest.param(name, id=name, marks=pytest.mark.builds(name))
                 for name in INTEGRATION_KERNELS]


#: Fixtures that reach outside a unit test's temporary directories.
INTEGRATION_ONLY = ("real_ws", "guest_programs")
LOOPBACK = pytest.StashKey[str | None]()
PREBUILD = pytest.StashKey[Prebuild]()


#: The selection that is the unit tests alone: README's ``tools/test -m "not integration"``.
UNIT_ONLY = "not integration"


def unit_workers(config) -> int:
    """How many pytest-xdist workers a run of the unit tests alone gets: one per CPU.

    Most of their time is CPU spent in separate programs (b4 alone is about half),
    one test after the other, so a second core halves the run.  Anything but
    ``-m "not integration"`` runs in one process as before: the integration tests
    share the real workspace and wait for the background builds of tests/prebuild.py,
    which one process starts and orders.  ``-n N`` chooses, ``-n 0`` or ``-p no:xdist``
    runs in one process; so do ``-s``, ``--pdb`` and ``--collect-only``.
    """
    option = config.option
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput") \
            or os.environ.get("PYTEST_XDIST_WORKER"):
        return 0
    if getattr(option, "numprocesses", None) is not None or option.dist != "no" or option.tx:
        return 0     # the command line chose
    if option.markexpr != UNIT_ONLY or option.collectonly or option.usepdb \
            or option.capture == "no":
        return 0
    cpus = len(os.sched_getaffinity(0))
    return cpus if cpus > 1 else 0


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """The unit tests alone run on every CPU (pytest-xdist): see unit_workers()."""
    workers = unit_workers(config)
    if workers:
        # What xdist's own -n N sets up.
        config.option.numprocesses = workers
        config.option.dist = "load"
        config.option.tx = ["popen"] * workers


def pytest_configure(config):
    """Before any test starts a server: make 127.0.0.1 work (tests/loopback.py)."""
    try:
        config.stash[LOOPBACK] = loopback.ensure()
    except RuntimeError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config):
    return config.stash.get(LOOPBACK, None)


def kernels_built_for(item) -> list[str]:
    """The integration kernels whose build *item* needs (its ``builds`` marks)."""
    wanted = {name for mark in item.iter_markers("builds") for name in mark.args}
    return [name for name in INTEGRATION_KERNELS if name in wanted]


def run_order(item) -> int:
    """Unit tests first; then the tests of each kernel, in the order they are built
    (a test of two kernels goes with the later one); then the integration tests
    that need no build, once none is running (they may touch the kernel trees)."""
    if item.get_closest_marker("integration") is None:
        return -1
    built = kernels_built_for(item)
    return max(map(INTEGRATION_KERNELS.index, built)) if built else len(INTEGRATION_KERNELS)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Unit tests never use the real workspace: that is what integration tests are for.
    Then order the tests by what they wait for, and start the builds they need
    (tests/prebuild.py): L2WG_PREBUILD=0 builds in the tests themselves."""
    for item in items:
        if item.get_closest_marker("integration") is None:
            used = sorted(set(INTEGRATION_ONLY) & set(getattr(item, "fixturenames", ())))
            if used:
                raise pytest.UsageError(f"{item.nodeid}: a unit test uses {', '.join(used)} "
                                        "(the real workspace): mark it integration")
    items.sort(key=run_order)      # stable: within a group the order stays pytest's
    needed = {name for item in items for name in kernels_built_for(item)}
    if not needed or config.option.collectonly or os.environ.get("L2WG_PREBUILD") == "0" \
            or hasattr(config, "workerinput"):
        return
    kernels = [name for name in INTEGRATION_KERNELS if name in needed]
    config.stash[PREBUILD] = Prebuild(ROOT, kernels, Workspace.default().logs).start()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before its fixtures: wait for the builds the test needs, or for all of them."""
    if hasattr(item.config, "workerinput") and item.get_closest_marker("integration"):
        pytest.fail("integration tests run in one process, not in pytest-xdist's workers: "
                    "they share the real workspace and the background builds; drop -n",
                    pytrace=False)
    prebuild = item.config.stash.get(PREBUILD, None)
    if prebuild is None or item.get_closest_marker("integration") is None:
        return
    needed = kernels_built_for(item)
    if not needed:
        prebuild.wait_all()
        return
    for name in needed:
        outcome = prebuild.wait(name)
        if outcome and outcome.returncode != 0:
            pytest.fail(f"the background build of {name} failed (exit {outcome.returncode}); "
                        f"its output: {outcome.log}", pytrace=False)


def pytest_terminal_summary(terminalreporter, config):
    prebuild = config.stash.get(PREBUILD, None)
    if prebuild is not None and prebuild.outcomes:
        terminalreporter.write_line(f"background builds: {prebuild.summary()}")


def pytest_unconfigure(config):
    prebuild = config.stash.get(PREBUILD, None)
    if prebuild is not None:
        prebuild.stop()


@pytest.fixture(scope="session")
def empty_host_apt(tmp_path_factory) -> Path:
    """An apt configuration whose sources, lists and state are empty directories and
    files: what "the host's apt sources" are for unit tests (APT_CONFIG); beside it an
    empty git configuration."""
    root = tmp_path_factory.mktemp("host-apt")
    for directory in ("sources.list.d", "lists/partial", "cache/archives/partial"):
        (root / directory).mkdir(parents=True)
    for name in ("sources.list", "status", "gitconfig"):
        (root / name).write_text("")
    config = root / "apt.conf"
    config.write_text("".join(f'{key} "{root / value}";\n' for key, value in (
        ("Dir::Etc::sourcelist", "sources.list"), ("Dir::Etc::sourceparts", "sources.list.d"),
        ("Dir::State", "."), ("Dir::State::Lists", "lists"), ("Dir::State::status", "status"),
        ("Dir::Cache", "cache"))))
    return config


@pytest.fixture(autouse=True)
def hermetic(request, monkeypatch):
    """Unit tests read neither the host's apt lists nor the user's or the system's git
    configuration.  apt reads APT_CONFIG first (l2wg's private configurations override
    all it sets); git reads an empty global configuration (tests that need one, such
    as tests/test_submit.py's, give their own).  The machine-wide kernel build lock is
    the run's own: a build check of a unit test does not wait for real kernel builds."""
    if request.node.get_closest_marker("integration") is None:
        config = request.getfixturevalue("empty_host_apt")
        monkeypatch.setattr("l2wg.build.KBUILD_LOCK", config.with_name("kbuild.lock"))
        monkeypatch.setenv("APT_CONFIG", str(config))
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config.with_name("gitconfig")))
        monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def project() -> Project:
    return Project(ROOT)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def real_ws() -> Workspace:
    return Workspace.default()


@pytest.fixture
def quiet():
    return silent()


@pytest.fixture(scope="session")
def guest_programs(real_ws):
    """What kernels.toml's [guest] table puts in the guest instead of host programs."""
    from l2wg.userspace import guest_programs

    return guest_programs(Project(ROOT).matrix(), real_ws, silent())


@pytest.fixture(scope="session")
def guest_ws(tmp_path_factory) -> Workspace:
    """The session's workspace for guest images and the rawframe helper."""
    return Workspace(tmp_path_factory.mktemp("guest-ws"))


@pytest.fixture(scope="session")
def guest_image(guest_ws):
    """A workspace whose base guest image was built once for the session (cold, about
    5 s): (workspace, that first build).  Tests add their own images beside it."""
    from l2wg import guest

    return guest_ws, guest.build_initramfs(guest_ws)


@pytest.fixture(scope="session")
def rawframe(guest_ws) -> Path:
    """The static rawframe helper, compiled once for the session (gcc -static, about
    0.5 s); the base guest image of guest_image carries this same binary."""
    from l2wg import guest

    return guest.build_rawframe(guest_ws, guest_ws.logs / "rawframe.log")


# A signed Debian archive on 127.0.0.1 (tests/debian_repo.py) -------------------

@pytest.fixture(scope="session")
def debian_keys(tmp_path_factory):
    """Two throwaway signing keys: 'good' signs the test archive, 'other' does not."""
    import debian_repo

    base = tmp_path_factory.mktemp("gpg")
    keys = {name: debian_repo.make_key(base / name, name) for name in ("good", "other")}
    yield keys
    for key in keys.values():
        debian_repo.stop_agent(key)


@pytest.fixture(scope="session")
def debian_www(tmp_path_factory, debian_keys) -> Path:
    """The test archive's document root (www/debian is the mirror), built once."""
    import debian_repo

    base = tmp_path_factory.mktemp("archive")
    debian_repo.make_archive(base, debian_keys["good"])
    return base / "www"


@pytest.fixture
def debian_server(debian_www, debian_keys):
    """The test archive served on 127.0.0.1 for one test: (server, DebianArchive)."""
    import debian_repo
    from l2wg.kernels import DebianArchive

    server = debian_repo.Server(debian_www)
    yield server, DebianArchive(mirror=f"{server.url}/debian",
                                keyring=debian_keys["good"].keyring,
                                suites=tuple(debian_repo.SUITES), host=False)
    server.stop()
