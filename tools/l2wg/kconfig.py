"""Kernel configuration: fragments resolved against the tree's own Kconfig.

The config is made the kernel's way -- ``make tinyconfig``, then
``scripts/kconfig/merge_config.sh -m``, then ``make olddefconfig`` -- with
one step added in between: kconfiglib reads the tree's Kconfig and works out
which dependencies each requested symbol needs (``PPPOE=y`` brings
``PPP=y``).  Those are merged in as a "solved" fragment.  After
olddefconfig, every requested value is checked in the final ``.config``;
one that did not stick is reported with the dependency that blocks it.

kconfiglib 14.1.0 (its last release, 2020) predates three pieces of Kconfig
syntax; :class:`CompatKconfig` translates them while reading, line for line,
into what the kernel's own parser (scripts/kconfig) makes of them:

- the bare ``modules`` (5.13) becomes ``option modules``;
- ``transitional`` (6.18) becomes a prompt: the kernel makes such a symbol
  visible, so its value in an old .config counts;
- ``depends on X if Y`` (kernel commit 76df6815dab7, 2026) becomes
  ``depends on (X) || <Y is n>``, Y compared with n symbol by symbol as
  menu_add_dep() does -- not ``X || !(Y)``, which differs when a negated
  symbol in Y is m.

Syntax it does not know fails with kconfiglib's file:line and the line's text.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kconfiglib
from kconfiglib import AND, EQUAL, NOT, OR, UNEQUAL, Choice, Symbol, expr_str, expr_value

from .errors import L2wgError
from .runner import run
from .store import sha256_file

TRI = {"n": 0, "m": 1, "y": 2}
FRAGMENT_LINE = re.compile(r"^CONFIG_(\w+)=(.*)$")
UNSET_LINE = re.compile(r"^# CONFIG_(\w+) is not set$")


# kconfiglib compatibility --------------------------------------------------
#
# Every rewrite turns one line into one line, so kconfiglib's file:line stay
# true.  A line that a rewrite does not fully understand is left as it is:
# kconfiglib then rejects it with its file, line and text -- it is never read
# half right.  The rewrites do not know help texts: a help line that reads like
# one of these constructs is translated too, which changes only that text.

# A 'depends on' line with its backslash-continued lines.
DEPENDS_ON = re.compile(r"^([ \t]*depends[ \t]+on\b)((?:.*\\\n)*.*)$", re.M)
OPERAND = r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
EXPR_TOKEN = re.compile(rf"\s*(&&|\|\||!=|<=|>=|[()!=<>]|{OPERAND}|\S)")
RELATIONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
# The keywords of the kernel's lexer (scripts/kconfig/lexer.l): never a symbol.
KEYWORDS = frozenset(
    "bool choice comment config def_bool def_tristate default depends endchoice endif endmenu "
    "help hex if imply int mainmenu menu menuconfig modules on prompt range select source "
    "string transitional tristate visible".split())

# A parsed expression, as scripts/kconfig/parser.y builds it:
# ("sym", "FOO"), ("cmp", "FOO = y"), ("!", e), ("&&", a, b) or ("||", a, b).
Expr = tuple


def rewrite_kconfig(text: str) -> str:
    """Translate Kconfig syntax newer than kconfiglib 14.1.0; line numbers are kept."""
    text = re.sub(r"^([ \t]*)modules[ \t]*$", r"\1option modules", text, flags=re.M)
    # scripts/kconfig/symbol.c, sym_calc_visibility(): a transitional symbol is visible, so
    # its value in an old .config is used; kconfiglib needs a prompt for that.
    text = re.sub(r"^([ \t]*)transitional[ \t]*$", r'\1prompt "transitional"', text, flags=re.M)
    return DEPENDS_ON.sub(_conditional_depends, text)


def _conditional_depends(line: re.Match) -> str:
    """``depends on X if Y`` as ``depends on (X) || <Y is n>``, the kernel's own translation.

    scripts/kconfig/menu.c, menu_add_dep(): the dependency is
    ``X || expr_trans_compare(Y, E_EQUAL, &symbol_no)``; :func:`_is_n` is that
    function.  It is not ``X || !(Y)``: with Y = ``!G`` and G=m, ``!(Y)`` is m
    where the kernel's ``G != n`` is y.
    """
    head, rest = line.groups()
    continued = rest.count("\n")      # kept as empty lines after the translation
    rest = rest.replace("\\\n", " ")
    if not re.search(r"\bif\b", rest) or "$" in rest:   # $(macro): only kconfiglib expands it
        return line.group(0)
    tokens = _expr_tokens(rest)
    words = [token.group(1) for token in tokens]
    if "if" not in words:
        return line.group(0)
    split = words.index("if")
    try:
        _parse(words[:split])
        cond = _parse(words[split + 1:])
    except ValueError:
        return line.group(0)
    dep = rest[:tokens[split].start(1)].strip()
    tail = rest[tokens[-1].end():] + "\n" * continued
    return f"{head} ({dep}) || {_is_n(cond, True)}{tail}"


def _expr_tokens(text: str) -> list[re.Match]:
    """The tokens of *text* up to a ``#`` comment, as the kernel's lexer splits them."""
    tokens = []
    for token in EXPR_TOKEN.finditer(text):
        if token.group(1) == "#":
            break
        tokens.append(token)
    return tokens


def _parse(words: list[str]) -> Expr:
    """The expression *words* spell (the ``expr`` rule of parser.y); ValueError if none."""
    rest = list(words)
    expr = _parse_or(rest)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r}")
    return expr


def _parse_or(rest: list[str]) -> Expr:
    expr = _parse_and(rest)
    while rest[:1] == ["||"]:
        rest.pop(0)
        expr = ("||", expr, _parse_and(rest))
    return expr


def _parse_and(rest: list[str]) -> Expr:
    expr = _parse_factor(rest)
    while rest[:1] == ["&&"]:
        rest.pop(0)
        expr = ("&&", expr, _parse_factor(rest))
    return expr


def _parse_factor(rest: list[str]) -> Expr:
    """``!`` binds tighter than ``&&``; ``!A = B`` is ``!(A = B)``, as in parser.y."""
    word = _take(rest)
    if word == "!":
        return ("!", _parse_factor(rest))
    if word == "(":
        expr = _parse_or(rest)
        if _take(rest) != ")":
            raise ValueError("missing ')'")
        return expr
    if rest[:1] and rest[0] in RELATIONS:
        return ("cmp", f"{_operand(word)} {rest.pop(0)} {_operand(_take(rest))}")
    return ("sym", _operand(word))


def _take(rest: list[str]) -> str:
    if not rest:
        raise ValueError("the expression ends early")
    return rest.pop(0)


def _operand(word: str) -> str:
    if not re.fullmatch(OPERAND, word) or word in KEYWORDS:
        raise ValueError(f"not a symbol: {word!r}")
    return word


def _is_n(expr: Expr, equal: bool) -> str:
    """kconfiglib text of expr_trans_compare(expr, equal ? E_EQUAL : E_UNEQUAL, &symbol_no).

    scripts/kconfig/expr.c: a symbol S becomes the comparison ``S = n`` (or
    ``S != n``); ``!e`` flips the comparison; ``a && b`` is n when either is,
    ``a || b`` when both are; a comparison is already y or n.  The result is
    always y or n, never m.
    """
    kind = expr[0]
    if kind == "sym":
        return f"({expr[1]} {'=' if equal else '!='} n)"
    if kind == "cmp":
        return f"!({expr[1]})" if equal else f"({expr[1]})"
    if kind == "!":
        return _is_n(expr[1], not equal)
    joined = f" {'||' if kind == '&&' else '&&'} ".join(_is_n(e, True) for e in expr[1:])
    return f"({joined})" if equal else f"!({joined})"


class CompatKconfig(kconfiglib.Kconfig):
    """kconfiglib.Kconfig that reads Kconfig files through :func:`rewrite_kconfig`."""

    def _open(self, filename, mode):
        name = os.path.basename(filename)
        if mode == "r" and name.startswith("Kconfig") and os.path.isfile(filename):
            with open(filename, encoding=self._encoding) as f:
                return io.StringIO(rewrite_kconfig(f.read()))
        return super()._open(filename, mode)


def srcarch(arch: str) -> str:
    return {"x86_64": "x86", "i386": "x86", "um": "um"}.get(arch, arch)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_kconfig(srctree: Path, arch: str, kernelversion: str, llvm: bool = False) -> CompatKconfig:
    """Parse the tree's Kconfig as kbuild would for *arch*."""
    env = {"srctree": str(srctree), "ARCH": arch, "SRCARCH": srcarch(arch),
           "KERNELVERSION": kernelversion, "CC": "clang" if llvm else "gcc",
           "LD": "ld.lld" if llvm else "ld", "HOSTCC": "gcc", "HOSTCXX": "g++"}
    with _environment(env):
        try:
            return CompatKconfig(str(srctree / "Kconfig"), warn=False, warn_to_stderr=False)
        except kconfiglib.KconfigError as exc:
            raise L2wgError(f"kconfiglib cannot parse {srctree}/Kconfig: "
                            f"{str(exc).strip().splitlines()[0]}") from None


# fragments -----------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One line of a fragment: CONFIG_<name>=<value>, and where it was asked for."""

    name: str
    value: str
    origin: str


def read_fragment(path: Path) -> list[Request]:
    requests = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        origin = f"{path.name}:{lineno}"
        if match := FRAGMENT_LINE.match(line):
            requests.append(Request(match.group(1), match.group(2).strip('"'), origin))
        elif match := UNSET_LINE.match(line):
            requests.append(Request(match.group(1), "n", origin))
        elif line and not line.startswith("#"):
            raise L2wgError(f"{path}:{lineno}: not a config line: {line!r}")
    return requests


def read_config(path: Path) -> dict[str, str]:
    """A .config as {name: value}; unset symbols are 'n'."""
    values = {}
    for request in read_fragment(path):
        values[request.name] = request.value
    return values


# the solver ----------------------------------------------------------------

@dataclass
class Plan:
    """The requests and every dependency that had to be turned on for them."""

    requests: list[Request]
    implied: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def fragment(self) -> str:
        """The plan as a config fragment for merge_config.sh, each line with its reason."""
        lines = ["# Solved by l2wg: the requested symbols, then the dependencies they need"]
        for request in self.requests:
            lines += [f"# {request.origin}", _config_line(request.name, request.value)]
        for name, value in self.implied.items():
            lines += [f"# {self.reasons[name]}", _config_line(name, value)]
        return "\n".join(lines) + "\n"


def _config_line(name: str, value: str) -> str:
    if value == "n":
        return f"# CONFIG_{name} is not set"
    if re.fullmatch(r"[ymn]|-?\d+|0x[0-9a-fA-F]+", value):
        return f"CONFIG_{name}={value}"
    return f'CONFIG_{name}="{value}"'


class Solver:
    """Turns requested values into a consistent set of assignments with kconfiglib."""

    def __init__(self, kconf: CompatKconfig):
        self.kconf = kconf
        self.journal: list[tuple[Symbol | Choice, object]] = []
        self.busy: set[str] = set()

    def solve(self, requests: list[Request]) -> Plan:
        """Each request in turn, the modules symbol (MODULES) first: it decides
        what 'm' means for every tristate, so a dependency found =y while
        MODULES is off would fall to a `default m` once it is on."""
        plan = Plan(requests)
        modules = self.kconf.modules.name
        for request in sorted(requests, key=lambda r: r.name != modules):
            sym = self.kconf.syms.get(request.name)
            if sym is None or not sym.nodes:
                continue  # reported by verify(): the symbol does not exist in this tree
            self._set(sym, request.value, plan, why=None)
        return plan

    def _set(self, sym: Symbol, value: str, plan: Plan, why: str | None) -> bool:
        if sym.str_value == value:
            return True
        if sym.name in self.busy or not sym.nodes:
            return False
        self.busy.add(sym.name)
        try:
            if value != "n" and sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
                want = TRI.get(value, 2)
                if sym.visibility < want:
                    self._make_visible(sym, want, plan)
            self.journal.append((sym, sym.user_value))
            sym.set_value(value)
            ok = sym.str_value == value
            if ok and why is not None and sym.name not in plan.implied:
                plan.implied[sym.name] = value
                plan.reasons[sym.name] = why
            return ok
        finally:
            self.busy.discard(sym.name)

    def _make_visible(self, sym: Symbol, want: int, plan: Plan) -> None:
        """Satisfy the condition of one of the symbol's prompts (it includes its 'depends on')."""
        for node in sym.nodes:
            if node.prompt and self._satisfy(node.prompt[1], want, plan, sym.name):
                return

    def _satisfy(self, expr, want: int, plan: Plan, needed_by: str) -> bool:
        if expr_value(expr) >= want:
            return True
        why = f"needed by {needed_by}"
        if isinstance(expr, Symbol):
            return not expr.is_constant and self._set(expr, "y" if want == 2 else "m", plan, why)
        if isinstance(expr, Choice):
            return False
        op = expr[0]
        if op == AND:
            return (self._satisfy(expr[1], want, plan, needed_by)
                    and self._satisfy(expr[2], want, plan, needed_by))
        if op == OR:
            return any(self._attempt(operand, want, plan, needed_by) for operand in expr[1:])
        if op == NOT and isinstance(expr[1], Symbol) and not expr[1].is_constant:
            return self._set(expr[1], "n", plan, f"conflicts with {needed_by}")
        if op in (EQUAL, UNEQUAL) and isinstance(expr[1], Symbol) and expr[2].is_constant:
            target = expr[2].str_value if op == EQUAL else ("y" if expr[2].str_value == "n" else None)
            return target is not None and self._set(expr[1], target, plan, why)
        return False

    def _attempt(self, expr, want: int, plan: Plan, needed_by: str) -> bool:
        """Try one alternative of an OR; undo what it set if it does not work out."""
        mark = len(self.journal)
        implied = dict(plan.implied)
        if self._satisfy(expr, want, plan, needed_by):
            return True
        while len(self.journal) > mark:
            sym, old = self.journal.pop()
            if old is None:
                sym.unset_value()
            else:
                sym.set_value(old)
        plan.implied, plan.reasons = implied, {k: plan.reasons[k] for k in implied}
        return False


# verification --------------------------------------------------------------

def explain(kconf: CompatKconfig, name: str, want: str) -> str:
    """Why CONFIG_<name> cannot be <want> in the config kconf has loaded."""
    sym = kconf.syms.get(name)
    if sym is None or not sym.nodes:
        return f"CONFIG_{name} does not exist in this kernel's Kconfig"
    level = TRI.get(want, 2)
    if want == "n":
        if sym.rev_dep is not kconf.n and expr_value(sym.rev_dep):
            return f"CONFIG_{name} is selected by {_with_values(sym.rev_dep)}"
        return f"CONFIG_{name} cannot be disabled (it has no prompt or a default that holds)"
    if expr_value(sym.direct_dep) < level:
        return f"CONFIG_{name}={want} is blocked by 'depends on {_with_values(sym.direct_dep)}'"
    prompts = [node.prompt for node in sym.nodes if node.prompt]
    if not prompts:
        selectors = _with_values(sym.rev_dep) if sym.rev_dep is not kconf.n else "nothing"
        return (f"CONFIG_{name} has no prompt, so it cannot be set directly; "
                f"it is selected by: {selectors}")
    if max(expr_value(cond) for _, cond in prompts) < level:
        return f"CONFIG_{name}: its prompt is hidden by 'if {_with_values(prompts[0][1])}'"
    return f"CONFIG_{name}={want} was not kept (it is now {sym.str_value})"


def _with_values(expr) -> str:
    """expr_str with each symbol's current value: 'PPP [=n] && NET [=y]'."""
    def show(sc):
        if isinstance(sc, Symbol) and not sc.is_constant:
            return f"{sc.name} [={sc.str_value}]"
        return kconfiglib.standard_sc_expr_str(sc)
    return expr_str(expr, show)


def unmet(requests: list[Request], config: dict[str, str]) -> list[Request]:
    """The requests whose value did not make it into *config*."""
    return [r for r in requests if config.get(r.name, "n") != r.value]


# the config stage ----------------------------------------------------------

@dataclass(frozen=True)
class ConfigResult:
    """A solved and verified .config in a build directory."""

    path: Path
    sha256: str
    symbols_y: int
    implied: dict[str, str]
    reasons: dict[str, str]


def make_config(srctree: Path, build_dir: Path, arch: str, kernelversion: str,
                fragments: list[Path], make: list[str], log: Path,
                base_target: str = "tinyconfig") -> ConfigResult:
    """tinyconfig + solved fragments + olddefconfig, then verify every request.

    *make* is the make command with its common variables (ARCH=, O=, LLVM=1 ...).
    """
    requests = [r for frag in fragments for r in read_fragment(frag)]
    config = build_dir / ".config"
    run([*make, base_target], log_path=log, what=f"make {base_target}")
    kconf = load_kconfig(srctree, arch, kernelversion, llvm="LLVM=1" in make)
    kconf.load_config(str(config))
    plan = Solver(kconf).solve(requests)
    solved = build_dir / "l2wg-solved.config"
    solved.write_text(plan.fragment())
    run([srctree / "scripts/kconfig/merge_config.sh", "-m", "-O", build_dir, config, solved],
        log_path=log, cwd=srctree, env={"ARCH": arch, "SRCARCH": srcarch(arch)},
        what="merge_config.sh")
    run([*make, "olddefconfig"], log_path=log, what="make olddefconfig")
    final = read_config(config)
    missing = unmet(requests, final)
    if missing:
        kconf.load_config(str(config))
        reasons = "; ".join(f"{explain(kconf, r.name, r.value)} (asked in {r.origin})"
                            for r in missing)
        raise L2wgError(f"config request(s) cannot be met: {reasons}", log)
    return ConfigResult(config, sha256_file(config),
                        sum(1 for v in final.values() if v == "y"), plan.implied, plan.reasons)
