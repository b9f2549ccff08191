"""docs/bad-input.md stays honest: every test it cites exists (pytest collects it), every
row of the catalogue cites one, and the catalogue keeps at least 60 distinct cases.

Only the files the document cites are collected, in a subprocess (a few seconds).  A
bare function id (no ``[...]``) stands for all its parametrized cases."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bad-input.md"
MIN_CASES = 60
GAPS_HEADING = "## Known gaps"  # rows after it are not cases vmgui handles
NODE_ID = re.compile(r"`(tests/[\w/.-]+\.py::[^`]+)`")


def table_rows(text: str) -> list[str]:
    """The body rows of the document's tables (no header, no separator line)."""
    rows = []
    for line in text.splitlines():
        cells = line.strip()
        if not cells.startswith("|") or set(cells) <= set("|-: "):
            continue
        if cells.startswith("| input |"):
            continue
        rows.append(cells)
    return rows


def collected(files: list[str]) -> set[str]:
    """Node ids pytest collects from ``files`` (paths relative to the repository)."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *[str(ROOT / f) for f in files]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {line.strip() for line in result.stdout.splitlines() if "::" in line}


def test_every_cited_test_exists_and_the_catalogue_has_enough_cases():
    text = DOC.read_text(encoding="utf-8")
    catalogue = text.split(GAPS_HEADING)[0]
    rows = table_rows(catalogue)
    uncited = [row for row in rows if not NODE_ID.search(row)]
    assert not uncited, f"rows without a test: {uncited}"
    inputs = [row.split(" | ")[0] for row in rows]
    duplicates = sorted({i for i in inputs if inputs.count(i) > 1})
    assert not duplicates, f"inputs listed twice: {duplicates}"
    assert len(rows) >= MIN_CASES, f"{len(rows)} cases; the catalogue promises {MIN_CASES}"

    cited = set(NODE_ID.findall(text))
    files = sorted({node.split("::")[0] for node in cited})
    missing_files = [f for f in files if not (ROOT / f).is_file()]
    assert not missing_files, f"cited test files that do not exist: {missing_files}"
    ids = collected(files)
    missing = sorted(node for node in cited
                     if node not in ids and not any(i.startswith(node + "[") for i in ids))
    assert not missing, "cited tests that pytest does not collect:\n" + "\n".join(missing)


def test_the_row_parser_sees_rows_and_ids():
    """Guard for the checks above: a table of two rows, one without a test."""
    text = ("| input | what the user gets | test |\n|---|---|---|\n"
            "| a | b | `tests/unit/test_x.py::test_y[1]` |\n| c | d | none |\n")
    rows = table_rows(text)
    assert len(rows) == 2
    assert [NODE_ID.findall(r) for r in rows] == [["tests/unit/test_x.py::test_y[1]"], []]
