"""The Kconfig solver and the kconfiglib compatibility layer.

Unit tests run on a small synthetic Kconfig; the integration tests parse the
real Debian 6.1 and 6.12 trees, which plain kconfiglib 14.1.0 cannot.
"""

from __future__ import annotations

import textwrap

import kconfiglib
import pytest

from l2wg import kconfig
from l2wg.errors import L2wgError
from l2wg.kconfig import Request, Solver, explain, load_kconfig, rewrite_kconfig

SYNTHETIC = """
config MODULES
	bool "Enable loadable module support"
	modules

config NET
	bool "Networking support"

config PPP
	tristate "PPP support"
	depends on NET

config PPPOE
	tristate "PPP over Ethernet"
	depends on PPP

config NEVER
	bool

config B
	bool "B"
	depends on NEVER

config C
	bool "C"

config A
	bool "A"
	depends on B || C

config SELECTED_ONLY
	bool

config OLD_NAME
	bool "an old name"
	transitional

config NOT_WITH_C
	bool "excludes C"
	depends on !C
"""


@pytest.fixture
def kconf(tmp_path):
    (tmp_path / "Kconfig").write_text(textwrap.dedent(SYNTHETIC))
    return load_kconfig(tmp_path, "x86_64", "6.12.0")


def req(name, value="y"):
    return Request(name, value, "test.config:1")


def test_rewrite_keeps_line_numbers():
    text = "config M\n\tbool \"m\"\n\tmodules\nconfig T\n\tbool\n\ttransitional\n"
    out = rewrite_kconfig(text)
    assert "\toption modules\n" in out
    assert "transitional" not in out
    assert out.count("\n") == text.count("\n")


def test_plain_kconfiglib_fails_where_compat_parses(tmp_path, kconf):
    with pytest.raises(kconfiglib.KconfigError, match="modules"):
        kconfiglib.Kconfig(str(tmp_path / "Kconfig"), warn=False)
    assert kconf.modules is kconf.syms["MODULES"]


def test_dependencies_are_turned_on(kconf):
    plan = Solver(kconf).solve([req("PPPOE")])
    assert kconf.syms["PPPOE"].str_value == "y"
    assert plan.implied == {"PPP": "y", "NET": "y"}
    assert plan.reasons["PPP"] == "needed by PPPOE"
    fragment = plan.fragment()
    assert "CONFIG_PPPOE=y" in fragment and "CONFIG_PPP=y" in fragment


def test_y_request_forces_y_dependency_not_m(kconf):
    kconf.syms["MODULES"].set_value("y")
    kconf.syms["NET"].set_value("y")
    kconf.syms["PPP"].set_value("m")
    Solver(kconf).solve([req("PPPOE")])
    assert kconf.syms["PPP"].str_value == "y"


def test_or_takes_the_alternative_that_works_and_undoes_the_other(kconf):
    plan = Solver(kconf).solve([req("A")])
    assert kconf.syms["A"].str_value == "y"
    assert plan.implied == {"C": "y"}
    assert kconf.syms["B"].user_value is None


def test_not_dependency_clears_the_symbol(kconf):
    kconf.syms["C"].set_value("y")
    plan = Solver(kconf).solve([req("NOT_WITH_C")])
    assert kconf.syms["NOT_WITH_C"].str_value == "y"
    assert plan.implied == {"C": "n"}


def test_unmeetable_requests_are_explained(kconf):
    Solver(kconf).solve([req("B"), req("SELECTED_ONLY"), req("NO_SUCH")])
    assert kconf.syms["B"].str_value == "n"
    assert "blocked by 'depends on NEVER [=n]'" in explain(kconf, "B", "y")
    assert "has no prompt" in explain(kconf, "SELECTED_ONLY", "y")
    assert "does not exist" in explain(kconf, "NO_SUCH", "y")


def test_fragment_reader(tmp_path):
    frag = tmp_path / "f.config"
    frag.write_text('# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S="x y"\n')
    assert [(r.name, r.value, r.origin) for r in kconfig.read_fragment(frag)] == [
        ("A", "y", "f.config:2"), ("B", "n", "f.config:3"), ("S", "x y", "f.config:4")]
    frag.write_text("CONFIG_A=y\nnonsense\n")
    with pytest.raises(L2wgError, match="f.config:2: not a config line"):
        kconfig.read_fragment(frag)


def test_shipped_fragments_parse(project):
    for frag in project.fragments.glob("*.config"):
        assert kconfig.read_fragment(frag), frag


# Integration: the real Debian trees -------------------------------------------

def pristine_tree(real_ws, project, name):
    from l2wg import sources, tree
    from l2wg.progress import silent

    kernel = project.matrix().get(name)
    source = sources.fetch(kernel, real_ws, silent())
    return tree.ensure_pristine(kernel, source, real_ws, silent())


@pytest.mark.integration
@pytest.mark.parametrize("name", ["6.12", "6.1"])
def test_real_tree_parses_and_solves_pppoe(real_ws, project, name):
    tree = pristine_tree(real_ws, project, name)
    kconf = load_kconfig(tree.path, "x86_64", tree.version)
    assert len(kconf.unique_defined_syms) > 15000
    kconf.syms["NET"].set_value("n")
    kconf.syms["PPP"].set_value("n")
    plan = Solver(kconf).solve([req("PPPOE")])
    assert kconf.syms["PPPOE"].str_value == "y"
    assert {"PPP", "NET"} <= set(plan.implied)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["6.12", "6.1"])
def test_make_config_on_real_tree(real_ws, project, tmp_path, name):
    """tinyconfig + fragments: every request lands, and PPPOE pulls PPP in."""
    tree = pristine_tree(real_ws, project, name)
    frag = tmp_path / "want.config"
    frag.write_text("CONFIG_64BIT=y\nCONFIG_NET=y\nCONFIG_INET=y\nCONFIG_PPPOE=y\n")
    make = ["make", "-C", str(tree.path), f"O={tmp_path / 'b'}", "ARCH=x86_64"]
    (tmp_path / "b").mkdir()
    result = kconfig.make_config(tree.path, tmp_path / "b", "x86_64", tree.version, [frag], make,
                                 tmp_path / "config.log")
    final = kconfig.read_config(result.path)
    assert final["PPPOE"] == "y" and final["PPP"] == "y" and final["64BIT"] == "y"
    assert "PPP" in result.implied

    frag.write_text("CONFIG_NET=y\nCONFIG_NO_SUCH_SYMBOL=y\n# CONFIG_64BIT is not set\n")
    with pytest.raises(L2wgError) as err:
        kconfig.make_config(tree.path, tmp_path / "b", "x86_64", tree.version, [frag], make,
                            tmp_path / "config.log")
    message = str(err.value)
    assert "CONFIG_NO_SUCH_SYMBOL does not exist" in message
    assert "CONFIG_64BIT" in message and "want.config:3" in message
    assert "config.log" in message
