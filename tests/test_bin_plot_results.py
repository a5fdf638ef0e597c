"""`lidtool plot-results`: a table of make-results' JSON drawn as a curve over its systems."""
from __future__ import annotations

import json

import pytest

from lidtool.bin.plot_results import table_series
from lidtool.cli import main as cli
from lidtool.errors import InputError

RESULTS = {"Figure 4": {"1": {"test25": {"accuracy": 0.4, "eer": 0.2}},
                        "2": {"test25": {"accuracy": 0.5, "eer": 0.1}},
                        "4": {"test25": {"accuracy": 0.7, "eer": 0.05},
                              "other": {"accuracy": 0.6, "eer": 0.07}}},
           "Empty": {}}


def test_series_in_system_order_with_gaps():
    systems, series = table_series(RESULTS, "Figure 4", "accuracy", "r.json")
    assert systems == ["1", "2", "4"]
    assert series["test25"] == pytest.approx([40.0, 50.0, 70.0])
    assert series["other"] == [None, None, pytest.approx(60.0)]
    with pytest.raises(InputError, match="no table titled 'Nope'"):
        table_series(RESULTS, "Nope", "accuracy", "r.json")
    with pytest.raises(InputError, match="no system with score files"):
        table_series(RESULTS, "Empty", "accuracy", "r.json")
    with pytest.raises(InputError, match="no metric 'cavg'"):
        table_series(RESULTS, "Figure 4", "cavg", "r.json")


def test_plot_results_writes_png(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS))
    out = tmp_path / "fig.png"
    assert cli(["plot-results", "--json", str(path), "--table", "Figure 4",
                "--xlabel", "blocks", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli(["plot-results", "--json", str(tmp_path / "none.json"), "--table", "x",
                "--out", str(tmp_path / "x.png")]) == 1
    assert "none.json" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
