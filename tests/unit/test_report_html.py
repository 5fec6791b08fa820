"""The study report's building blocks: markdown tables to HTML, embedded images, curves, examples."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from rge.data.records import EvalRow, Item
from rge.io import write_json, write_jsonl
from rge.report import curves, examples
from rge.report.html import (
    esc,
    file_uri,
    inline,
    markdown_to_html,
    page,
    split_pipe_row,
    table_html,
    thumbnail_uri,
)

MD = """# Table 2: scores

Config (study): `embedded`; runs: a{BR}
Precision@1 in %.{BR}

| source | model | x |
|---|---|---|
| ours | a \\| b | 1.0 |
| paper (reference only) | <P> | 2.0 |

> NOT the paper's numbers.
""".replace("{BR}", "  ")  # two trailing spaces: a markdown line break


def decode(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


def test_markdown_to_html_reads_the_table_writer_format():
    title, body = markdown_to_html(MD)
    assert title == "Table 2: scores"
    assert "<p>Config (study): <code>embedded</code>; runs: a</p>" in body
    assert "<tr><th>source</th><th>model</th><th>x</th></tr>" in body
    assert "<td>a | b</td>" in body  # escaped bar is a literal bar, not a cell break
    assert '<tr class="ref"><td>paper (reference only)</td><td>&lt;P&gt;</td>' in body
    assert "<blockquote>NOT the paper&#x27;s numbers.</blockquote>" in body
    assert body.count("<tr") == 3


def test_markdown_row_with_wrong_cell_count_names_file_and_line():
    bad = "# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |\n"
    with pytest.raises(ValueError, match=r"t\.md: line 6: 1 cells for 2 columns"):
        markdown_to_html(bad, "t.md")


def test_split_pipe_row_and_escaping():
    assert split_pipe_row("| a | b \\| c |  ") == ["a", "b | c"]
    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert inline("run `x<y` ok") == "run <code>x&lt;y</code> ok"


def test_table_html_formats_cells():
    out = table_html(["a", "b"], [[None, 1.23456], ["<x>", 2]], digits=2)
    assert "<td>–</td><td>1.23</td>" in out and "<td>&lt;x&gt;</td><td>2</td>" in out


def test_file_uri_round_trips_and_rejects_unknown_types(tmp_path):
    png = tmp_path / "f.png"
    Image.new("RGB", (4, 3), "red").save(png)
    uri = file_uri(png)
    assert uri.startswith("data:image/png;base64,") and decode(uri) == png.read_bytes()
    (tmp_path / "f.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValueError, match=r"f\.pdf.*'\.pdf'"):
        file_uri(tmp_path / "f.pdf")


def test_thumbnail_keeps_aspect_and_names_bad_files(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (400, 200), "blue").save(path)
    with Image.open(io.BytesIO(decode(thumbnail_uri(path, 160)))) as im:
        assert im.size == (160, 80)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png"):
        thumbnail_uri(tmp_path / "bad.png")


def test_page_has_contents_and_sections():
    html = page("T <1>", "<p>head</p>", [("a", "First", "<p>one</p>"), ("b", "Second", "two")])
    assert html.startswith("<!DOCTYPE html>") and "<title>T &lt;1&gt;</title>" in html
    assert '<a href="#a">First</a>' in html and '<section id="b"><h2>Second</h2>' in html
    assert "http" not in html  # nothing fetched from the network


def test_moving_average_skips_nulls():
    assert curves.moving_average([1.0, None, 3.0, 5.0], 2) == [1.0, None, 2.0, 4.0]
    assert (curves.smoothing_window(10), curves.smoothing_window(100)) == (1, 4)


def test_read_curve_names_the_run(tmp_path):
    folder = tmp_path / "cold_start"
    write_jsonl(folder / "train_log.jsonl", [{"step": 1, "loss": 2.0, "lm": 2.0, "con": None}])
    write_json(folder / "summary.json", {"settings": {"run": None}})
    curve = curves.read_curve(folder / "train_log.jsonl", folder / "summary.json")
    assert curve.run == "cold_start" and curve.series["con"] == [None]
    assert curves.drawn_parts(curve) == ["lm"]  # the total would repeat the only part
    assert curves.run_name(tmp_path / "x", {"settings": {"run": "rge"}}) == "rge"
    write_jsonl(folder / "train_log.jsonl", [{"loss": 1.0}])
    with pytest.raises(ValueError, match="row 1 has no 'step'"):
        curves.read_curve(folder / "train_log.jsonl")


def test_plot_curve_is_a_png(tmp_path):
    rows = [
        {"step": s, "loss": 3.0 - s / 10, "lm": 1.0, "con": 2.0 - s / 10, "self_tokens": 9.0}
        for s in range(1, 21)
    ]
    write_jsonl(tmp_path / "r" / "train_log.jsonl", rows)
    curve = curves.read_curve(tmp_path / "r" / "train_log.jsonl")
    assert curves.drawn_parts(curve) == ["loss", "lm", "con"]
    assert curves.plot_curve(curve, "r").startswith(b"\x89PNG")
    assert curves.plot_contrastive([curve, curve], {"r": "R"}).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("summary", "probe", "expected"),
    [
        ({"final_con": 1.0, "ln_candidates": 2.0, "ln_batch": 2.0}, 0.5, "cannot see"),
        ({"final_con": None}, 0.95, "LM-only"),
        ({"final_con": 1.9, "ln_candidates": 2.0, "ln_batch": 2.0}, 0.95, "chance"),
        ({"final_con": 0.1, "ln_candidates": 2.0, "ln_batch": 2.0}, 0.95, "shortcut"),
        ({"final_con": 1.0, "ln_candidates": 2.0, "ln_batch": 2.0}, 0.95, "sees and learned"),
        ({"final_con": 1.0, "ln_candidates": 2.0, "ln_batch": 2.0}, None, "no probe"),
    ],
)
def test_diagnosis_rules(summary, probe, expected):
    assert expected in curves.diagnosis(summary, probe, 0.9)


def test_pick_examples_alternates_outcomes_and_spreads_tasks():
    outcomes = {
        "A": {"A/0": (True, True), "A/1": (False, True), "A/2": (True, False)},
        "B": {"B/0": (False, True), "B/1": (False, False), "B/2": (True, True)},
    }
    # rge-only, baseline-only, both, neither; then the next rge-only, then the next both
    assert examples.pick_examples(outcomes, 6) == [
        ("B", "B/0"), ("A", "A/2"), ("A", "A/0"), ("B", "B/1"), ("A", "A/1"), ("B", "B/2"),
    ]  # fmt: skip
    assert examples.pick_examples(outcomes, 1) == [("B", "B/0")]
    assert examples.pick_examples({}, 3) == []
    assert (examples.row_index("T/12"), examples.row_index("T/x")) == (12, -1)


def test_examples_table_marks_picks_and_rejects_bad_index():
    row = EvalRow("T/0", "T", Item("<|image_1|> q?"), (Item("truth"), Item("other")))
    picks = [examples.Pick("base", 1, False), examples.Pick("rge", 0, True)]
    out = examples.examples_table([(row, "because", picks)], ["base", "rge"])
    assert "✗ wrong</span> (candidate 1)" in out and "✓ correct</span> (candidate 0)" in out
    assert "because" in out and "<|image_1|>" not in out and "<div>q?</div>" in out
    with pytest.raises(ValueError, match="T/0: base predicts candidate 5 of 2"):
        examples.pick_html(row, examples.Pick("base", 5, False), 64)


def test_outcomes_with_one_side_missing_mirror_the_other():
    base = {"T/0": {"correct": True}, "T/1": {"correct": False}}
    rge = {"T/1": {"correct": True}, "T/2": {"correct": True}}
    assert examples.outcomes(base, rge) == {"T/1": (False, True)}
    assert examples.outcomes(None, rge) == {"T/1": (True, True), "T/2": (True, True)}


def test_rationale_stats_weight_by_rationale_count():
    scores = [
        {"run": "r", "mode": "reasoning", "meta_task": "vqa", "acc": 0.5,
         "num_rationales": 30, "mean_rationale_tokens": 10.0, "forced_emb_rate": 0.0},
        {"run": "r", "mode": "reasoning", "meta_task": "vqa", "acc": 0.25,
         "num_rationales": 10, "mean_rationale_tokens": 30.0, "forced_emb_rate": 0.4},
        {"run": "b", "mode": "direct", "meta_task": "vqa", "acc": 0.9,
         "num_rationales": 0, "mean_rationale_tokens": None, "forced_emb_rate": None},
    ]  # fmt: skip
    out = examples.rationale_stats_html(scores, {"r": "R"})
    # (30*10 + 10*30) / 40 = 15 tokens, (10*0.4) / 40 = 0.1 forced, mean P@1 37.5 %
    row = "<td>R</td><td>reasoning-direct</td><td>vqa</td><td>2</td><td>40</td><td>15.00</td>"
    assert row + "<td>0.10</td><td>37.50</td>" in out and "<td>all</td>" in out
    assert "<td>b</td>" not in out and examples.rationale_stats_html(scores[2:], {}) == ""


def test_curve_legends_sit_below_the_plotting_area():
    """No curve hides behind a legend: the legend box lies under the axes' box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rge.report.curves import legend_below

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for k in range(4):
        ax.plot([0, 1, 2], [k, k + 1, k], label=f"run {k}")
    legend = legend_below(ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box, area = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.y1 < area.y0  # entirely under the plotting area (pixels, origin bottom left)
    assert len(legend.get_texts()) == 4
    plt.close(fig)


def _probe_file(prompt_min: float) -> dict:
    """A probe.json as pretrain_backbone writes it: the captioning prompt sees, and the
    prompt probe's weakest in-domain prompt decides the gate."""
    res = lambda rate: {"n_scenes": 10, "all_correct": rate, "accuracy": {}, "examples": []}  # noqa: E731
    return {
        "probe": {"n_scenes": 10, "accuracy": {"left_color": 0.99, "right_shape": 0.97}},
        "probe_threshold": 0.9,
        "passed": prompt_min >= 0.9,
        "prompt_probe": {
            "prompts": {"captioning prompt": res(0.96), "SynObjects query": res(prompt_min),
                        "SynShapeQA query": res(0.1), "SynCOCO_t2i query": res(0.2)},
            "in_domain": ["captioning prompt", "SynObjects query"],
            "out_of_domain": ["SynShapeQA query"], "text_only": ["SynCOCO_t2i query"],
            "min_in_domain": prompt_min, "min_in_domain_prompt": "SynObjects query",
            "prompt_protocol": "rge_release",
            "gate": {"name": "perception gate", "threshold": 0.9, "value": prompt_min,
                     "passed": prompt_min >= 0.9},
        },
    }  # fmt: skip


@pytest.mark.parametrize(("prompt_min", "verdict", "reading"), [
    (0.85, "FAILED", "cannot see"), (0.92, "passed", "sees and learned"),
])  # fmt: skip
def test_diagnostics_show_the_prompt_probe_minimum_and_its_gate(prompt_min, verdict, reading):
    probe = _probe_file(prompt_min)
    # the gated number is the prompt probe's minimum, not the captioning prompt's 0.97
    assert curves.probe_stats(probe) == (prompt_min, 0.9)
    assert curves.probe_stats({k: v for k, v in probe.items() if k != "prompt_probe"}) == (
        0.97, 0.9,
    )  # fmt: skip
    summary = {"final_con": 1.0, "ln_candidates": 2.0, "ln_batch": 2.0, "objective": "baseline"}
    html = curves.diagnostics_html({"b": summary}, {"b": "B"}, probe)
    assert f"minimum {prompt_min:.3f} (SynObjects query), threshold 0.9: <b>{verdict}</b>" in html
    assert "<td>SynObjects query</td><td>in domain (gated)</td><td>10</td>" in html
    assert (
        "<td>SynShapeQA query</td><td>out of domain (not gated)</td><td>10</td><td>0.100</td>"
        in html
    )
    assert "<td>SynCOCO_t2i query</td><td>text only (not gated)</td>" in html
    assert f"<td>B</td><td>baseline</td><td>–</td><td>{prompt_min:.3f}</td>" in html
    assert reading in html
    # in-domain rows first
    assert html.index("captioning prompt</td>") < html.index("SynCOCO_t2i query</td>")
