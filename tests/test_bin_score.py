"""`lidtool score`: JSON keys and values, table, options, and clean file:line errors."""
import json
import os
import subprocess
import sys

import pytest

from lidtool.cli import main

# Case C of test_metrics_lid (open set when targets are a, b): hand values there.
SCORES = """u1 a 0.9
u1 b -0.4
u2 a -0.7
u2 b 0.6
u3 a 0.2
u3 b -0.1
u4 a 0.5
u4 b -0.8
u5 a -0.6
u5 b 0.3
"""
UTT2LANG = "u1 a\nu2 b\nu3 b\nu4 x\nu5 y\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "scores").write_text(SCORES)
    (tmp_path / "utt2lang").write_text(UTT2LANG)
    return tmp_path / "scores", tmp_path / "utt2lang"


def _run(capsys, *argv):
    rc = main(["score", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_keys_and_values(files, capsys):
    rc, out, _ = _run(capsys, *files, "--json")
    assert rc == 0
    r = json.loads(out)
    for key in ("accuracy", "eer", "cavg", "min_cavg", "min_dcf", "per_lang", "n_utts",
                "open_set"):
        assert key in r
    assert set(r["min_dcf"]) == {"p0.01", "p0.05"}
    assert r["per_lang"] == {"a": {"accuracy": 1.0, "count": 1},
                             "b": {"accuracy": 0.5, "count": 2}}
    assert r["n_utts"] == 5 and r["open_set"] is True
    assert r["cavg"] == pytest.approx(0.3125)
    assert r["eer"] == pytest.approx(1 / 3)
    assert r["accuracy"] == pytest.approx(2 / 3)


def test_threshold_option(files, capsys):
    # t = .55: a: P_miss 0 (.9); P_fa(a,b) 0 (-.7, .2); P_fa(a,unk) 0 (.5, -.6) -> 0
    #          b: P_miss 1/2 (u3 -.1); P_fa(b,a) 0; P_fa(b,unk) 0 (.3) -> .25
    # Cavg = .125
    rc, out, _ = _run(capsys, *files, "--json", "--threshold", "0.55")
    assert rc == 0
    r = json.loads(out)
    assert r["cavg"] == pytest.approx(0.125) and r["threshold"] == 0.55


def test_table_by_default(files, capsys):
    rc, out, _ = _run(capsys, *files)
    assert rc == 0
    assert "5 utterances, 2 target languages, open set" in out
    assert "EER                    33.33 %" in out
    assert "Cavg (threshold 0)     0.3125" in out


def test_langs_and_langs_file(files, tmp_path, capsys):
    # the score file also scores x: --langs a,b ignores it (same hand values as case C);
    # with x as a target, y stays a non-target language -> still open set, 1 unknown
    (tmp_path / "scores").write_text(SCORES + "".join(
        f"u{i} x {v}\n" for i, v in zip(range(1, 6), [-1, -1, -1, 1, -1])))
    rc, out, _ = _run(capsys, *files, "--json", "--langs", "a,b")
    r = json.loads(out)
    assert rc == 0 and sorted(r["per_lang"]) == ["a", "b"]
    assert r["cavg"] == pytest.approx(0.3125)
    assert any("ignored: x" in w for w in r["warnings"])
    (tmp_path / "langs").write_text("b\na\nx\n")
    rc, out, _ = _run(capsys, *files, "--json", "--langs-file", tmp_path / "langs")
    r = json.loads(out)
    assert rc == 0 and r["langs"] == ["b", "a", "x"] and r["n_unknown"] == 1


def test_bad_score_file_is_a_clean_error(files, capsys):
    scores, utt2lang = files
    scores.write_text(SCORES.replace("u3 b -0.1", "u3 b NaN"))
    rc, out, err = _run(capsys, scores, utt2lang, "--json")
    assert rc == 1 and out == ""
    assert err.startswith(f"ERROR: {scores}:6: score 'NaN' is not finite")
    scores.write_text(SCORES.replace("u3 b -0.1\n", ""))
    rc, _, err = _run(capsys, scores, utt2lang)
    assert rc == 1 and f"{scores}:5: utterance 'u3' has no score for language 'b'" in err


def test_utt2lang_mismatch_is_a_clean_error(files, capsys):
    scores, utt2lang = files
    utt2lang.write_text(UTT2LANG + "u6 a\n")
    rc, _, err = _run(capsys, scores, utt2lang)
    assert rc == 1 and f"ERROR: {utt2lang}:6: utterance 'u6' has no scores" in err


def test_confusion_png_and_module_entry(files, tmp_path):
    png = tmp_path / "cm.png"
    proc = subprocess.run([sys.executable, "-m", "lidtool.bin.score", *map(str, files),
                           "--json", "--confusion-png", str(png)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["open_set"] is True
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".")) == []


def test_help_lists_options(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["score", "--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--langs", "--langs-file", "--json", "--confusion-png", "--threshold"):
        assert opt in out
