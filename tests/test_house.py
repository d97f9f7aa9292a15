"""The house rules that keep the code readable: no product file over 400 lines, no function over 60
(benchmarks and migrations aside), and no import climbing back up (edges → handlers → models)."""
from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PRODUCT = [p for package in ("bot", "handlers", "models") for p in sorted((ROOT / package).rglob("*.py"))
           if "migrations" not in p.parts]


def test_the_product_is_where_the_rules_look():
    assert len(PRODUCT) > 40 and any(p.name == "claims.py" for p in PRODUCT)


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_file_over_400_lines_nor_function_over_60(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400, f"{path.name} has {len(text.splitlines())} lines: split it"
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60]
    assert not long, f"functions over 60 lines in {path.name}: {long}"


@pytest.mark.parametrize("path", [p for p in PRODUCT if p.parts[-2] in ("handlers", "models")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_never_imports_an_edge(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    above = ("bot",) if path.parts[-2] == "handlers" else ("bot", "handlers")  # data flows one way: down
    assert not {m for m in imported if m.split(".")[0] in above}, f"{path.name} imports from {above}"
