"""Self-contained HTML for the study report: escaping, markdown tables, embedded images, the page.

Everything the page shows is inline (PNG and other images as base64 ``data:`` URIs, one small
style sheet), so the file opens offline and can be mailed around as it is. The markdown
converter reads exactly what ``rge.report.tables.to_markdown`` writes: a ``# title`` line, header
lines, one pipe table and ``> note`` lines; inline ``code`` spans become ``<code>``.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

Cell = str | int | float | None

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       line-height: 1.4; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.ref td { color: #777; }
.wide { overflow-x: auto; }
.honesty { background: #fff3cd; border: 1px solid #e0c36a; padding: 0.6em 1em; }
.note { color: #555; font-size: 0.9em; }
blockquote { margin: 0.4em 0; padding-left: 0.8em; border-left: 3px solid #ccc; color: #555; }
.ok { color: #1a7f37; font-weight: bold; }
.bad { color: #c62828; font-weight: bold; }
figure { margin: 0.8em 0; }
figcaption { color: #555; font-size: 0.9em; }
img.thumb { max-width: 160px; border: 1px solid #ccc; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def esc(text: object) -> str:
    """``text`` as HTML-safe text."""
    return html.escape(str(text), quote=True)


def inline(text: str) -> str:
    """Escape ``text`` and turn markdown ``code`` spans into ``<code>``."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))


def fmt_cell(cell: Cell, digits: int = 3) -> str:
    """A table cell as text: floats with ``digits`` decimals, None as an en dash."""
    if cell is None:
        return "–"
    if isinstance(cell, float):
        return f"{cell:.{digits}f}"
    return str(cell)


def table_html(
    columns: Sequence[str], rows: Sequence[Sequence[Cell]], digits: int = 3, raw: bool = False
) -> str:
    """An HTML table; cells are escaped unless ``raw`` (cells already HTML)."""
    cell = (lambda c: fmt_cell(c, digits)) if raw else (lambda c: esc(fmt_cell(c, digits)))
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="wide"><table><tr>{head}</tr>{body}</table></div>'


def split_pipe_row(line: str) -> list[str]:
    """The cells of one markdown pipe-table row (``\\|`` is a literal bar)."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    cells = re.split(r"(?<!\\)\|", body)
    return [c.strip().replace("\\|", "|") for c in cells]


def _is_separator(line: str) -> bool:
    return bool(re.fullmatch(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?", line.strip()))


def markdown_to_html(text: str, source: str = "markdown") -> tuple[str, str]:
    """Convert one rendered table file to ``(title, html)``.

    Understands ``# title``, plain lines (header lines, two trailing spaces = line break), pipe
    tables (a header row, a ``|---|`` separator, body rows) and ``> note`` lines. Rows whose
    first cell starts with "paper" are styled as reference rows.

    Raises:
        ValueError: a table row whose cell count differs from the header's (names ``source``).
    """
    lines = text.splitlines()
    title, out, i = "", [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _is_separator(lines[i + 1]):
            end = i + 2
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            out.append(_pipe_table(lines[i], lines[i + 2 : end], source, i + 1))
            i = end
            continue
        elif line.startswith(">"):
            out.append(f"<blockquote>{inline(line[1:].strip())}</blockquote>")
        elif line.strip():
            out.append(f"<p>{inline(line.strip())}</p>")
        i += 1
    return title, "\n".join(out)


def _pipe_table(header: str, body: list[str], source: str, first_line: int) -> str:
    columns = split_pipe_row(header)
    rows = []
    for k, line in enumerate(body):
        cells = split_pipe_row(line)
        if len(cells) != len(columns):
            raise ValueError(
                f"{source}: line {first_line + 2 + k}: {len(cells)} cells for {len(columns)} "
                "columns"
            )
        cls = ' class="ref"' if cells[0].lower().startswith("paper") else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{inline(c)}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{inline(c)}</th>" for c in columns)
    return f'<div class="wide"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def data_uri(data: bytes, mime: str) -> str:
    """``data`` as a base64 ``data:`` URI."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def file_uri(path: str | Path) -> str:
    """An image file (png, jpg, svg) as a ``data:`` URI."""
    path = Path(path)
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"{path}: cannot embed a {path.suffix!r} file (have {sorted(MIME)})")
    return data_uri(path.read_bytes(), mime)


def thumbnail_uri(path: str | Path, px: int = 160) -> str:
    """A PNG thumbnail (longest side ``px``) of an image file as a ``data:`` URI."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((px, px))
            buf = io.BytesIO()
            im.save(buf, format="PNG")
    except OSError as err:
        raise ValueError(f"{path}: cannot read image ({err})") from err
    return data_uri(buf.getvalue(), "image/png")


def img(uri: str, alt: str, cls: str = "") -> str:
    """An ``<img>`` tag for a data URI."""
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} src="{uri}" alt="{esc(alt)}">'


def figure(uri: str, caption: str) -> str:
    """An image with a caption."""
    return f"<figure>{img(uri, caption)}<figcaption>{inline(caption)}</figcaption></figure>"


def section(anchor: str, title: str, body: str) -> str:
    """A titled section with an anchor for the table of contents."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>\n{body}\n</section>'


def page(title: str, header: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: title, ``header`` HTML, a contents list, then the sections.

    Args:
        sections: (anchor, title, body HTML) in display order.
    """
    toc = "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t, _ in sections)
    body = "\n".join(section(a, t, b) for a, t, b in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{esc(title)}</h1>\n{header}\n<nav><ul>{toc}</ul></nav>\n{body}\n</body></html>\n"
    )
