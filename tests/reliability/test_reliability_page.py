"""RELIABILITY.md stays true to the tests: every test it names exists, and it quotes the last soak's figures."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support.soak import QUOTE_END, QUOTE_START, Figures, quote, render

PROJECT = Path(__file__).resolve().parents[2]
PAGE = PROJECT / "RELIABILITY.md"
RESULTS = PROJECT / "soak-results.md"
TEST_NAME = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_the_page_names_exists() -> None:
    named = TEST_NAME.findall(PAGE.read_text(encoding="utf-8"))
    assert len(named) >= 8
    for path, function in named:
        module = ast.parse((PROJECT / path).read_text(encoding="utf-8"))
        defined = {node.name for node in ast.walk(module) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert function in defined, f"RELIABILITY.md names {path}::{function}, which does not exist"


def test_the_page_quotes_the_last_soak_figures() -> None:
    page = PAGE.read_text(encoding="utf-8")
    quoted = page.partition(QUOTE_START)[2].partition(QUOTE_END)[0]
    if not RESULTS.exists():
        assert "no `make soak` run recorded yet" in quoted
        return
    assert quoted == "\n" + RESULTS.read_text(encoding="utf-8"), "run make soak again, or restore both files"


def test_the_figures_table_sums_a_proof_and_replaces_the_quote() -> None:
    first = Figures("Fuzz", "t.py::f[GET /a]", examples=100, passed=True)
    second = Figures("Fuzz", "t.py::f[GET /b]", examples=120, passed=True)
    lost = Figures("Races", "r.py::g", rounds=10, seeds="1..10", losses=1, passed=False)
    lost.faults.update({"push-drop": 3})
    text = render([first, second, lost], started="then", minutes=1.5, commit="abc", outcome="2 of 3 passed")
    assert "| Fuzz | – | – | 220 (at least 100 for each of 2) | none | 0 | passed |" in text
    assert "| Races | 10 | 1..10 | – | push-drop 3 | 1 | FAILED |" in text
    assert "- `t.py::f`: examples per case: GET /a 100, GET /b 120" in text
    page = f"head\n{QUOTE_START}\nold\n{QUOTE_END}\ntail"
    assert quote(page, "new\n") == f"head\n{QUOTE_START}\nnew\n{QUOTE_END}\ntail"
