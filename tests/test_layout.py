"""The code's layout, as issue 18 and the design card ask: short modules, one argparse user."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tools" / "l2wg"
MAX_LINES = 800


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_800_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in modules()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def imports_argparse(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "argparse":
            return True
    return False


def test_argparse_is_used_only_by_the_cli_parser():
    users = [str(p.relative_to(PACKAGE)) for p in modules() if imports_argparse(p)]
    assert users == ["cli/parser.py"]
