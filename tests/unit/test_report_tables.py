"""Table rendering: markdown, CSV, LaTeX (escaping, empty cells, atomic writes)."""

from __future__ import annotations

import csv
import io

import pytest

from rge.report.tables import Table, fmt, tex_escape, to_csv, to_latex, to_markdown, write_table


def table() -> Table:
    return Table(
        title="T",
        columns=["name", "a_b", "score %"],
        rows=[["x|y", 1, 12.345], ["z", None, None]],
        header=["Config: `embedded`"],
        notes=["not a reproduction"],
    )


def test_fmt():
    assert (fmt(12.345), fmt(3), fmt(None), fmt(None, "–"), fmt("s")) == ("12.3", "3", "", "–", "s")


def test_markdown_layout():
    md = to_markdown(table()).splitlines()
    assert md[0] == "# T" and "Config: `embedded`" in md[2]
    assert "| name | a_b | score % |" in md
    assert "| x\\|y | 1 | 12.3 |" in md and "| z | – | – |" in md
    assert md[-1] == "> not a reproduction"


def test_csv_roundtrip():
    rows = list(csv.reader(io.StringIO(to_csv(table()))))
    assert rows == [["name", "a_b", "score %"], ["x|y", "1", "12.3"], ["z", "", ""]]


def test_latex_escapes_and_alignment():
    tex = to_latex(table())
    assert r"\begin{tabular}{lrr}" in tex
    assert r"name & a\_b & score \% \\" in tex
    assert r"z & -- & -- \\" in tex
    assert tex.startswith("% Config: `embedded`")
    assert r"\caption{T. not a reproduction}" in tex
    assert tex_escape("50% & #1_{x}") == r"50\% \& \#1\_\{x\}"


def test_row_length_checked():
    with pytest.raises(ValueError, match="row 0"):
        Table("T", ["a", "b"], [[1]])


def test_write_table_writes_given_paths_only(tmp_path):
    write_table(table(), md=tmp_path / "t.md", tex=tmp_path / "sub" / "t.tex")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["t.md", "t.tex"]
    assert not list(tmp_path.rglob(".t.*"))  # no temporary left behind
