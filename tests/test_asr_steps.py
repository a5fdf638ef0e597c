"""steps/asr/*.sh end to end on a fake language: train mono + tri, graph, parallel
phone-loop decoding through the job runner, merged labels checked, evaluation."""
import json
import os
import subprocess
from pathlib import Path

from lidtool.asr.labels import check_frame_counts
from lidtool.asr.synthetic import make_fake_language

REPO = Path(__file__).resolve().parents[1]


def _run(*args):
    r = subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_recipe_steps(tmp_path):
    p = make_fake_language(tmp_path / "fake", num_utts=24, seed=7)
    lang, mono, tri = tmp_path / "lang", tmp_path / "mono", tmp_path / "tri1"
    _run("lidtool", "asr-prepare-lang", p["lexicon"], lang)
    _run("steps/asr/train_mono.sh", "--num-iters", 6, "--total-gauss", 60, "--topology", "skip",
         "--extra-opts",
         "--realign-iters 1,2,3,4 --max-iter-inc 4", p["data"], lang, mono)
    _run("steps/asr/train_tri.sh", "--num-leaves", 30, "--min-count", 10, "--num-iters", 4,
         "--total-gauss", 80, "--extra-opts", "--realign-iters 2 --max-iter-inc 2",
         p["data"], lang, mono, tri)
    _run("steps/asr/make_phone_graph.sh", lang, tri, tri / "graph")
    out = tmp_path / "labels"
    _run("steps/asr/decode_phone_loop.sh", "--nj", 2, tri, tri / "graph", p["data"], out)
    for f in ("ali.scp", "ali_phone.scp", "phone_seq", "num_pdfs", "pdf_info.txt", ".done"):
        assert (out / f).is_file(), f
    assert check_frame_counts(out / "ali.scp", p["data"]) == 24
    r = _run("lidtool", "asr-eval", "--timings", p["timings"], "--ali", tri / "ali.scp",
             "--phone-seq", out / "phone_seq", "--out", tmp_path / "eval.json", tri / "final.mdl")
    res = json.loads((tmp_path / "eval.json").read_text())
    assert res["frame_accuracy"] > 0.8 and res["per"] < 0.3
    # the run's summary: model sizes, failures, label spread, step times
    _run("lidtool", "asr-summary", "--labels", out, "--out", tmp_path / "summary.json",
         tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["mono"]["topology"] == s["tri1"]["topology"] == "skip"
    assert s["mono"]["min_frames_per_phone"] == 2 and s["tri1"]["num_pdfs"] <= 30
    assert set(s["mono"]["realign_failed"]) == {"1", "2", "3", "4"}
    assert s["mono"]["wall_s"] is not None and s["labels"]["wall_s"] is not None
    lab = s["labels"]["pdf_labels"]
    assert lab["utts"] == 24 and lab["num_classes"] == s["tri1"]["num_pdfs"]
    assert 1 < lab["distinct_labels"] <= lab["num_classes"]
    assert 0 < lab["most_frequent_share"] < 1
    assert s["labels"]["utts_not_reaching_final"] >= 0
    # finished steps are skipped on a re-run
    r = _run("steps/asr/decode_phone_loop.sh", "--nj", 2, tri, tri / "graph", p["data"], out)
    assert "skipping" in r.stderr
