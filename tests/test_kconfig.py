"""The Kconfig solver and the kconfiglib compatibility layer.

Unit tests run on small synthetic Kconfig files.  The integration tests parse
the Kconfig of every kernel of the matrix that the workspace already holds
(plain kconfiglib 14.1.0 can parse none of them), run the kernel's own
scripts/kconfig tests through the layer, and solve on the Debian 6.1 and
6.12 trees.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import kconfiglib
import pytest

from l2wg import kconfig, sources
from l2wg.errors import L2wgError
from l2wg.kconfig import TRI, Request, Solver, explain, load_kconfig, rewrite_kconfig
from l2wg.project import Project
from l2wg.tree import makefile_version

ROOT = Path(__file__).resolve().parents[1]

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
	bool
	transitional

config NOT_WITH_C
	bool "excludes C"
	depends on !C

config LEGACY
	tristate "legacy tables"
	depends on NET
	default m

config FILTER
	tristate "filter"
	depends on LEGACY
"""


@pytest.fixture
def kconf(tmp_path):
    (tmp_path / "Kconfig").write_text(textwrap.dedent(SYNTHETIC))
    return load_kconfig(tmp_path, "x86_64", "6.12.0")


def req(name, value="y"):
    return Request(name, value, "test.config:1")


def compat_only(tmp_path, text, rejected):
    """*text* as tmp_path/Kconfig: plain kconfiglib 14.1.0 rejects it (with *rejected*), the
    compat layer reads it."""
    (tmp_path / "Kconfig").write_text(textwrap.dedent(text))
    with pytest.raises(kconfiglib.KconfigError, match=rejected):
        kconfiglib.Kconfig(str(tmp_path / "Kconfig"), warn=False)
    return load_kconfig(tmp_path, "x86_64", "7.3.0")


def test_rewrite_keeps_line_numbers():
    text = ("config M\n\tbool \"m\"\n\tmodules\nconfig T\n\tbool\n\ttransitional\n"
            "config D\n\tbool \"d\"\n\tdepends on A && \\\n\t\tB if C  # why\nconfig E\n")
    out = rewrite_kconfig(text)
    assert "\toption modules\n" in out
    assert '\tprompt "transitional"\n' in out
    # the backslash-newline separates tokens, as in the kernel's lexer; its line stays, empty
    assert "\tdepends on (A &&  \t\tB) || (C = n)  # why\n\nconfig E\n" in out
    assert out.count("\n") == text.count("\n")


def test_rewrite_translates_the_condition_as_the_kernel_does():
    """expr_trans_compare(Y, E_EQUAL, &symbol_no), scripts/kconfig/expr.c, case by case."""
    def cond(y):
        return rewrite_kconfig(f"depends on X if {y}").removeprefix("depends on (X) || ")
    assert cond("G") == "(G = n)"
    assert cond("!G") == "(G != n)"
    assert cond("G && H") == "((G = n) || (H = n))"
    assert cond("G || H") == "((G = n) && (H = n))"
    assert cond("!(G && H)") == "!((G = n) || (H = n))"
    assert cond('G = "x"') == '!(G = "x")'
    assert cond("!G >= 3") == "(G >= 3)"            # ! binds the comparison: !(G >= 3)
    assert cond("G || H && !K") == "((G = n) && ((H = n) || (K != n)))"   # && before ||
    assert rewrite_kconfig("depends on A || B if C") == "depends on (A || B) || (C = n)"


def test_modules_rewrite(tmp_path):
    kconf = compat_only(tmp_path, """
        config MODULES
        \tbool "modules"
        \tmodules

        config T
        \ttristate "t"
        """, rejected="modules")
    assert kconf.modules is kconf.syms["MODULES"]
    kconf.syms["MODULES"].set_value("n")
    assert kconf.syms["T"].assignable == (0, 2)
    kconf.syms["MODULES"].set_value("y")
    assert kconf.syms["T"].assignable == (0, 1, 2)


def test_transitional_rewrite(tmp_path):
    """kconfig-language.rst: a transitional symbol has no prompt, but its value in an old
    .config is read and used (sym_calc_visibility() makes it visible)."""
    kconf = compat_only(tmp_path, """
        config MODULES
        \tbool "modules"
        \tmodules

        config NEW_NAME
        \ttristate "new name"
        \tdefault OLD_NAME

        config OLD_NAME
        \ttristate
        \ttransitional
        \thelp
        \t  The old name.
        """, rejected="transitional")
    kconf.syms["MODULES"].set_value("y")
    assert kconf.syms["NEW_NAME"].str_value == "n"
    for old in ("y", "m", "n"):
        (tmp_path / "old.config").write_text(f"CONFIG_MODULES=y\nCONFIG_OLD_NAME={old}\n")
        kconf.load_config(str(tmp_path / "old.config"))
        assert kconf.syms["NEW_NAME"].str_value == old


# 'option modules' (what the layer makes of 'modules'), so that plain kconfiglib
# stumbles over the conditional dependency and not over 'modules'.
CONDITIONAL = """
    config MODULES
    \tbool "modules"
    \toption modules

    config X
    \ttristate "X"

    config G
    \ttristate "G"

    config IF_G
    \ttristate "depends on X if G"
    \tdepends on X if G

    config IF_NOT_G
    \ttristate "depends on X if !G"
    \tdepends on X if !G

    config OPTIONAL
    \ttristate "depends on X if X"
    \tdepends on X if X
    """


@pytest.fixture
def conditional(tmp_path):
    kconf = compat_only(tmp_path, CONDITIONAL, rejected="extra tokens at end of line")
    kconf.syms["MODULES"].set_value("y")
    return kconf


@pytest.mark.parametrize("x", ["n", "m", "y"])
@pytest.mark.parametrize("g", ["n", "m", "y"])
def test_conditional_depends_rewrite(conditional, x, g):
    """menu_add_dep(): 'depends on X if Y' is X || (Y == n), Y tested symbol by symbol
    against n -- so G=m counts as set, for 'if G' and 'if !G' alike."""
    conditional.syms["X"].set_value(x)
    conditional.syms["G"].set_value(g)
    X, g_set = TRI[x], g != "n"
    assert conditional.syms["IF_G"].visibility == (X if g_set else 2)
    assert conditional.syms["IF_NOT_G"].visibility == (2 if g_set else X)
    assert conditional.syms["OPTIONAL"].visibility == (X if x != "n" else 2)


def test_conditional_depends_is_not_a_plain_negation(conditional):
    """'X if !G' with G=m: the dependency does not apply (y).  'X || !(!G)' would give m."""
    conditional.syms["X"].set_value("n")
    conditional.syms["G"].set_value("m")
    assert conditional.syms["IF_NOT_G"].visibility == 2
    assert conditional.eval_string("X || !(!G)") == 1


def test_conditional_depends_combines_with_other_dependencies(tmp_path):
    """TEST_COMPLEX of the kernel's scripts/kconfig/tests/conditional_dep, inside an if block."""
    kconf = compat_only(tmp_path, """
        config FOO
        \tbool "foo"

        config BAR
        \tbool "bar"

        config GATE
        \tbool "gate"

        if GATE
        config COMPLEX
        \tbool "complex"
        \tdepends on (FOO && BAR) if (FOO || BAR)
        \tdefault y
        endif
        """, rejected="extra tokens at end of line")
    sym = kconf.syms
    sym["GATE"].set_value("y")
    for foo, bar, want in [("n", "n", "y"), ("y", "n", "n"), ("n", "y", "n"), ("y", "y", "y")]:
        sym["FOO"].set_value(foo)
        sym["BAR"].set_value(bar)
        assert sym["COMPLEX"].str_value == want, (foo, bar)
    sym["GATE"].set_value("n")
    assert sym["COMPLEX"].str_value == "n"


@pytest.mark.parametrize("line, text", [
    ("\tdepends on A unless B", "depends on A unless B"),
    ("\tdepends on A if B if C", "depends on A if B if C"),
    ("\tdepends on A if", "depends on A if"),
    ("\tdepends on A if $(COND)", "depends on A if $(COND)"),
    ("\tfancy_new_option A", "fancy_new_option A"),
])
def test_unknown_syntax_fails_with_file_line_and_text(tmp_path, line, text):
    """What the layer does not translate is left to kconfiglib, which names file, line, text."""
    (tmp_path / "Kconfig").write_text('COND := B\nconfig A\n\tbool "a"\nsource "sub/Kconfig"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Kconfig").write_text(f'config B\n\tbool "b"\n{line}\n')
    with pytest.raises(L2wgError) as err:
        load_kconfig(tmp_path, "x86_64", "7.3.0")
    message = str(err.value)
    assert f"{tmp_path}/Kconfig" in message and "sub/Kconfig:3:" in message
    assert f"'{text}'" in message


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


def test_modules_is_set_first_so_a_default_m_dependency_is_turned_to_y(kconf):
    # debug.config asks for MODULES=y after checks.config asked for FILTER=y:
    # solved in that order, LEGACY's `default m` reads as y while MODULES is
    # off, and falls to m (taking FILTER with it) once MODULES is on.
    kconf.syms["NET"].set_value("y")
    assert kconf.syms["LEGACY"].str_value == "y"
    plan = Solver(kconf).solve([req("FILTER"), req("MODULES")])
    assert kconf.syms["FILTER"].str_value == "y"
    assert plan.implied["LEGACY"] == "y"


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
    for frag in project.fragments.glob("**/*.config"):
        assert kconfig.read_fragment(frag), frag


def test_a_line_override_of_a_fragment_is_used_on_that_line_only(tmp_path):
    (tmp_path / "ci" / "kconfig" / "6.1").mkdir(parents=True)
    canonical = tmp_path / "ci" / "kconfig" / "leak.config"
    override = tmp_path / "ci" / "kconfig" / "6.1" / "leak.config"
    canonical.write_text("CONFIG_SAMPLE_KMEMLEAK=m\n")
    override.write_text("CONFIG_DEBUG_KMEMLEAK_TEST=m\n")
    project = Project(tmp_path)
    assert project.fragment("leak", "6.1") == override
    assert project.fragment("leak", "6.12") == canonical
    assert project.fragment("leak") == canonical
    override.unlink()
    assert project.fragment("leak", "6.1") == canonical
    with pytest.raises(L2wgError, match="no config fragment 'gone'"):
        project.fragment("gone", "6.1")


def test_the_debug_variant_asks_for_its_kmemleak_control_by_each_lines_name(project):
    from l2wg.build import VARIANT_FRAGMENTS

    def asked(line):
        return {r.name: r.value for name in VARIANT_FRAGMENTS["debug"]
                for r in kconfig.read_fragment(project.fragment(name, line))}

    assert asked("7.3")["SAMPLE_KMEMLEAK"] == "m" and "DEBUG_KMEMLEAK_TEST" not in asked("7.3")
    assert asked("6.1")["DEBUG_KMEMLEAK_TEST"] == "m" and "SAMPLE_KMEMLEAK" not in asked("6.1")
    assert asked("6.1")["KASAN"] == asked("7.3")["KASAN"] == "y"


# Integration: the real Debian trees -------------------------------------------

def pristine_tree(real_ws, project, name):
    from l2wg import tree
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


# Integration: every kernel of the matrix that the workspace already holds ------

def cached_archive(kernel, ws):
    """The kernel's source archive if the workspace cache holds it (where sources.py keeps
    it), else None.  Reads the cache only, never apt or the network."""
    spec = kernel.source
    if spec.type == "debian":
        version = spec.version or sources.last_fetched_version(ws, spec.package, spec.suite)
        if not version:
            return None
        path = ws.sources / "debian" / f"{spec.package}_{version}.tar.xz"
    elif spec.type == "tarball":
        path = ws.sources / "tarballs" / spec.url.rstrip("/").rsplit("/", 1)[-1]
    else:
        return None     # a git source is fetched from its remote before each use
    return path if path.is_file() else None


@pytest.fixture(scope="module", params=list(Project(ROOT).matrix().kernels))
def workspace_tree(request, real_ws):
    """(kernel, tree, version): the kernel's work tree in the workspace, its local source,
    or a tree imported from the archive the cache already holds.  Nothing is downloaded;
    a kernel with none of these is skipped."""
    project = Project(ROOT)
    kernel = project.matrix().get(request.param)
    for path in (real_ws.tree(kernel.name), kernel.source.path):
        if path and (Path(path) / "Kconfig").is_file():
            return kernel, Path(path), makefile_version(Path(path))
    if cached_archive(kernel, real_ws) is None:
        why = ("a git source is fetched from its remote before each use"
               if kernel.source.type == "git" else f"its source is not cached in {real_ws.sources}")
        pytest.skip(f"kernel {kernel.name} ({kernel.source.describe()}): no tree in "
                    f"{real_ws.tree(kernel.name)}, and {why}")
    pristine = pristine_tree(real_ws, project, kernel.name)
    return kernel, pristine.path, pristine.version


@pytest.mark.integration
def test_matrix_kernel_kconfig_parses(workspace_tree):
    kernel, path, version = workspace_tree
    kconf = load_kconfig(path, kernel.arch, version)
    assert len(kconf.unique_defined_syms) > 10000
    assert kconf.modules is kconf.syms["MODULES"]
    for name in ("NET", "INET", "WIREGUARD", "PPPOE"):
        assert kconf.syms[name].nodes, f"{name} is not defined in {path}"


@pytest.mark.integration
def test_matrix_kernel_defines_every_option_its_variants_ask_for(workspace_tree):
    """Each variant's fragments, with the line's overrides (ci/kconfig/LINE/), ask
    only for options the kernel has: what a build would otherwise stop at, found
    without building (the debug variant's SAMPLE_KMEMLEAK is 6.1's
    DEBUG_KMEMLEAK_TEST)."""
    from l2wg.build import VARIANT_FRAGMENTS

    kernel, path, version = workspace_tree
    project = Project(ROOT)
    kconf = load_kconfig(path, kernel.arch, version)
    names = {*kernel.fragments, *(f for fs in VARIANT_FRAGMENTS.values() for f in fs)}
    missing = [f"{r.origin}: CONFIG_{r.name}"
               for name in sorted(names)
               for r in kconfig.read_fragment(project.fragment(name, kernel.line))
               if not (r.name in kconf.syms and kconf.syms[r.name].nodes)]
    assert not missing, f"not in {kernel.name}'s Kconfig ({version}): {', '.join(missing)}"


# scripts/kconfig/tests/<case>: (.config given, .config the kernel makes, the whole file?)
KERNEL_CASES = {
    "conditional_dep": [(f"test_config{i}", f"expected_config{i}", True) for i in (1, 2, 3)],
    "transitional": [("initial_config", "expected_config", False)],
}


@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(KERNEL_CASES))
def test_kernel_kconfig_tests_through_the_layer(workspace_tree, case, tmp_path):
    """The tree's own tests of a construct the layer translates: kconfiglib makes the
    .config that the kernel's C implementation is expected to make."""
    kernel, path, version = workspace_tree
    tests = path / "scripts" / "kconfig" / "tests" / case
    if not tests.is_dir():
        pytest.skip(f"kernel {kernel.name} ({version}) has no scripts/kconfig/tests/{case}")
    for given, expected, whole in KERNEL_CASES[case]:
        kconf = load_kconfig(tests, kernel.arch, version)
        kconf.load_config(str(tests / given))
        kconf.write_config(str(tmp_path / ".config"))
        made, want = kconfig.read_config(tmp_path / ".config"), kconfig.read_config(tests / expected)
        if whole:
            assert made == want, given
        else:
            assert {k: made.get(k) for k in want} == want, given
