"""A small table model rendered to markdown, CSV and LaTeX (each written atomically).

A ``Table`` holds a title, header lines (which config and runs produced it), notes (how to read
it, what it is not), column names and rows. Cells are str, int, float (printed with one decimal)
or None (empty). The CSV carries only columns and rows so that it loads as a plain data frame;
title, header and notes go to the markdown and, as comments and caption, to the LaTeX.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field

from rge.io import write_text

Cell = str | int | float | None


@dataclass
class Table:
    """Columns and rows plus the text around them."""

    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"{self.title}: row {i} has {len(row)} cells for {len(self.columns)} columns"
                )


def paper_number(text: str | None) -> float | None:
    """A number from a transcribed paper CSV cell; ``None`` for an empty cell or ``-``.

    Raises ValueError on any other non-numeric text (a transcription error).
    """
    return float(text) if text not in (None, "", "-") else None


def percent(fraction: float | None) -> float | None:
    """A score fraction in [0, 1] as a percentage (the paper's unit); ``None`` stays ``None``."""
    return None if fraction is None else 100.0 * fraction


def fmt(cell: Cell, empty: str = "") -> str:
    """A cell as text: floats with one decimal, None as ``empty``."""
    if cell is None:
        return empty
    if isinstance(cell, float):
        return f"{cell:.1f}"
    return str(cell)


def to_markdown(table: Table) -> str:
    """GitHub-flavoured markdown: title, header lines, the table, then notes."""
    out = [f"# {table.title}", ""]
    out += [f"{line}  " for line in table.header] + ([""] if table.header else [])
    esc = [c.replace("|", "\\|") for c in table.columns]
    out.append("| " + " | ".join(esc) + " |")
    out.append("|" + "|".join("---" for _ in table.columns) + "|")
    for row in table.rows:
        out.append("| " + " | ".join(fmt(c, "–").replace("|", "\\|") for c in row) + " |")
    if table.notes:
        out += ["", *[f"> {note}" for note in table.notes]]
    return "\n".join(out) + "\n"


def to_csv(table: Table) -> str:
    """CSV of the columns and rows (numbers with one decimal, None empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([fmt(c) for c in row] for row in table.rows)
    return buf.getvalue()


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment; header lines as comments, notes in the caption."""
    numeric = [
        bool(table.rows) and all(isinstance(r[j], int | float | None) for r in table.rows)
        for j in range(len(table.columns))
    ]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [f"% {line}" for line in table.header]
    lines += [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}"]
    lines += [r"\toprule", " & ".join(tex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
    for row in table.rows:
        lines.append(" & ".join(tex_escape(fmt(c, "--")) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = " ".join([table.title + ".", *table.notes])
    lines += [rf"\caption{{{tex_escape(caption)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(
    table: Table,
    md: str | os.PathLike | None = None,
    csv_path: str | os.PathLike | None = None,
    tex: str | os.PathLike | None = None,
) -> None:
    """Write the renderings whose paths are given, each atomically."""
    for path, render in ((md, to_markdown), (csv_path, to_csv), (tex, to_latex)):
        if path is not None:
            write_text(path, render(table))
