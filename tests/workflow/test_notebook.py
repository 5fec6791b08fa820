"""notebooks/results.ipynb runs top to bottom on a fake data tree and rebuilds Table 2's rows."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from tests.fixtures.report_fakes import write_data_tree

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "results.ipynb"
META = ("classification", "vqa", "retrieval", "grounding")


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert 'os.environ.get("RGE_DATA", "data")' in code[0].source


def run_notebook(data: Path, monkeypatch) -> nbformat.NotebookNode:
    """Execute the notebook against ``data``, with a last cell printing the rebuilt table."""
    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.fail("no python3 kernelspec: ipykernel must be installed in the venv")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('print(table.to_json(orient="records"))'))
    monkeypatch.setenv("RGE_DATA", str(data))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the notebook draws inline
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(data)}}
    ).execute()
    return nb


def test_notebook_rebuilds_table2_and_plots_a_curve(tmp_path, monkeypatch):
    written = write_data_tree(tmp_path)
    nb = run_notebook(tmp_path, monkeypatch)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    rows = {(r["run"], r["mode"]): r for r in json.loads(printed)}
    assert set(rows) == set(written["summaries"])
    for key, s in written["summaries"].items():
        for meta in META:
            expected = s["meta_task"].get(meta)
            got = rows[key][meta]
            assert got is None if expected is None else got == round(100 * expected, 1)
        for col in ("IND", "OOD", "overall"):
            assert rows[key][col] == round(100 * s[col], 1)
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == 1  # the training-curve figure
