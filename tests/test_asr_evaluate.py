"""lidtool.asr.evaluate: timings -> frames, frame accuracy, PER, timing-file errors."""
import gzip
import json

import pytest

from lidtool.asr.evaluate import (frame_accuracy, frame_accuracy_detail, phone_error_rate, read_timings,
                                  timings_to_frames)
from lidtool.errors import DataDirError


def test_timings_to_frames_uses_frame_centres():
    # frame t centre = 0.01 t + 0.0125
    items = [(0.0, 0.03, "a"), (0.03, 0.02, "b")]
    assert timings_to_frames(items, 6, "sil") == ["a", "a", "b", "b", "sil", "sil"]


def test_ctm_and_lhotse_readers(tmp_path):
    (tmp_path / "t.ctm").write_text("u1 1 0.00 0.10 a\nu1 1 0.10 0.05 b\n")
    assert read_timings(tmp_path / "t.ctm") == {"u1": [(0.0, 0.1, "a"), (0.1, 0.05, "b")]}
    (tmp_path / "bad.ctm").write_text("u1 1 0.0 0.1 a\nu1 1 x 0.1 b\n")
    with pytest.raises(DataDirError, match=r"bad.ctm:2: start/duration"):
        read_timings(tmp_path / "bad.ctm")
    sup = {"id": "u2", "recording_id": "r", "start": 1.0, "duration": 1.0,
           "alignment": {"phone": [["a", 1.0, 0.2], ["b", 1.2, 0.3]]}}
    with gzip.open(tmp_path / "sups.jsonl.gz", "wt") as f:
        f.write(json.dumps(sup) + "\n")
    # item times count from the recording start; results are relative to the supervision
    assert read_timings(tmp_path / "sups.jsonl.gz") == {"u2": [(0.0, 0.2, "a"),
                                                              (0.2, 0.3, "b")]}
    cut = {"id": "c", "start": 1.0, "duration": 1.0, "supervisions": [dict(sup, start=0.0)]}
    (tmp_path / "cuts.jsonl").write_text(json.dumps(cut) + "\n")
    assert read_timings(tmp_path / "cuts.jsonl") == {"u2": [(0.0, 0.2, "a"), (0.2, 0.3, "b")]}


def test_accuracy_and_per():
    acc, n = frame_accuracy({"u": ["a", "a", "b", "b"]}, {"u": ["a", "b", "b", "b"]})
    assert (acc, n) == (0.75, 4)
    d = frame_accuracy_detail({"u": ["sil", "a", "a", "b", "b", "b"]},
                              {"u": ["sil", "a", "b", "b", "sil", "sil"]}, "sil")
    assert d["speech_frame_accuracy"] == pytest.approx(2 / 3)      # a/a, a/b, b/b
    assert d["frame_accuracy_within_1"] == pytest.approx(5 / 6)    # only t=5 misses
    per, errs, length = phone_error_rate({"u": ["sil", "a", "c", "sil"]},
                                         {"u": ["a", "b", "d", "sil"]}, {"sil"})
    assert (errs, length) == (2, 3) and per == pytest.approx(2 / 3)
