"""score_files: the whole report on small hand-worked cases, and input alignment errors."""
import logging
import os

import numpy as np
import pytest

from lidtool.errors import InputError
from lidtool.metrics.report import format_table, score_files
from lidtool.metrics.scores import ScoreFileError, write_scores


def _case(tmp_path, utts, labels, langs, matrix, name="scores"):
    scores = tmp_path / name
    write_scores(scores, utts, langs, np.array(matrix))
    utt2lang = tmp_path / "utt2lang"
    utt2lang.write_text("".join(f"{u} {lab}\n" for u, lab in zip(utts, labels)))
    return scores, utt2lang


def test_closed_set_report(tmp_path):
    # Case A of test_metrics_lid (hand working there): accuracy .5, EER .375,
    # Cavg(0) = 1.375/3. minDCF: pooled points (P_fa, P_miss) +inf (0,1), 2.0 (0,.75),
    # 1.0 (0,.5), then P_fa >= 1/8 with P_miss >= .25 costs >= .25 + 19/8 (p=.05)
    # -> minDCF = .5 at both p = .01 and p = .05.
    # min-Cavg: scores span [-2, 2], grid step .2. Cavg by threshold interval:
    #   (-.3,-.2]: a .25+.25, b .125, c .25          -> .875/3
    #   (-.2, .3]: a .25+.25, b .125, c .5+.25       -> 1.375/3
    #   ( .3, .4]: a .25+.25, b .125, c .5           -> 1.125/3
    #   ( .4, .5]: a .25,     b .125 (u2 b=.5), c .5 -> .875/3
    #   ( .5, 1 ]: a .25 (u2 missed), b 0, c .5      -> .75/3 = .25  <- minimum
    #   ( 1,  2 ]: a .5, b 0, c .5                   -> 1/3
    #   (t <= -.3 gives >= .875/3: more false alarms). First grid point in (.5, 1]: .6.
    scores, utt2lang = _case(tmp_path, ["u1", "u2", "u3", "u4"], ["a", "a", "b", "c"],
                             ["a", "b", "c"],
                             [[1.0, -1.0, -2.0], [-0.5, 0.5, -1.0], [-1.0, 2.0, 0.3],
                              [0.4, -0.3, -0.2]])
    r = score_files(scores, utt2lang)
    assert r["accuracy"] == pytest.approx(0.5)
    assert r["eer"] == pytest.approx(0.375)
    assert r["cavg"] == pytest.approx(1.375 / 3)
    assert r["min_cavg"] == pytest.approx(0.25)
    assert r["min_cavg_threshold"] == pytest.approx(0.6)
    assert r["min_dcf"] == {"p0.01": pytest.approx(0.5), "p0.05": pytest.approx(0.5)}
    assert r["per_lang"]["a"] == {"accuracy": 0.5, "count": 2}
    assert r["n_utts"] == 4 and r["open_set"] is False and r["warnings"] == []
    assert r["n_target_trials"] == 4 and r["n_nontarget_trials"] == 8
    table = format_table(r)
    assert "accuracy               50.00 %" in table
    assert "EER                    37.50 %" in table
    assert "closed set" in table


def test_open_set_report_with_langs_subset(tmp_path):
    # Case C of test_metrics_lid: targets a b given explicitly; x and y are unknown.
    # Cavg(0) = .3125, accuracy 2/3, EER 1/3 (hand working there).
    scores, utt2lang = _case(tmp_path, ["u1", "u2", "u3", "u4", "u5"],
                             ["a", "b", "b", "x", "y"], ["a", "b"],
                             [[0.9, -0.4], [-0.7, 0.6], [0.2, -0.1], [0.5, -0.8],
                              [-0.6, 0.3]])
    r = score_files(scores, utt2lang, langs=["a", "b"])
    assert r["open_set"] is True and r["p_non"] == pytest.approx(0.25)
    assert r["cavg"] == pytest.approx(0.3125)
    assert r["accuracy"] == pytest.approx(2 / 3)
    assert r["eer"] == pytest.approx(1 / 3)
    assert r["n_unknown"] == 2 and r["unknown_langs"] == {"x": 1, "y": 1}
    assert "open set (2 of non-target languages)" in format_table(r)


def test_language_without_test_utterances_is_reported(tmp_path, caplog):
    # Case D of test_metrics_lid: no c utterances, Cavg(0) = .625/3
    scores, utt2lang = _case(tmp_path, ["u1", "u2", "u3"], ["a", "b", "b"],
                             ["a", "b", "c"],
                             [[0.5, -0.2, 0.1], [-0.3, 0.4, -0.5], [0.2, -0.6, -0.1]])
    with caplog.at_level(logging.WARNING):
        r = score_files(scores, utt2lang)
    assert r["cavg"] == pytest.approx(0.625 / 3)
    assert r["empty_langs"] == ["c"]
    assert r["per_lang"]["c"] == {"accuracy": None, "count": 0}
    assert len(r["warnings"]) == 1 and "c" in r["warnings"][0]
    assert "P_miss terms are skipped" in caplog.text
    assert "warning: target language(s) without test utterances: c" in format_table(r)


def test_no_target_trials_leaves_eer_undefined(tmp_path):
    # every utterance is of a non-target language: open set, no target trials
    scores, utt2lang = _case(tmp_path, ["u1", "u2"], ["x", "y"], ["a", "b"],
                             [[0.5, -0.5], [-0.5, 0.5]])
    r = score_files(scores, utt2lang)
    assert r["eer"] is None and r["accuracy"] is None
    assert r["min_dcf"] == {"p0.01": None, "p0.05": None}
    # a: P_miss skipped; P_fa(a,unk) = 1/2 -> .25*.5; b likewise -> Cavg .125
    assert r["cavg"] == pytest.approx(0.125)
    assert any("EER and minDCF are undefined" in w for w in r["warnings"])


def test_utterance_missing_from_scores_names_utt2lang_line(tmp_path):
    scores, utt2lang = _case(tmp_path, ["u1", "u2"], ["a", "b"], ["a", "b"],
                             [[1, 0], [0, 1]])
    utt2lang.write_text("u1 a\nu2 b\nu3 a\n")
    with pytest.raises(ScoreFileError) as err:
        score_files(scores, utt2lang)
    assert str(err.value).startswith(f"{utt2lang}:3: utterance 'u3' has no scores")


def test_scores_for_unknown_utterance_name_score_line(tmp_path):
    scores, utt2lang = _case(tmp_path, ["u1", "u2"], ["a", "b"], ["a", "b"],
                             [[1, 0], [0, 1]])
    utt2lang.write_text("u1 a\n")
    with pytest.raises(ScoreFileError) as err:
        score_files(scores, utt2lang)
    # scores are written sorted: u2's first line is line 3
    assert str(err.value).startswith(f"{scores}:3: utterance 'u2' is not in {utt2lang}")


def test_bad_utt2lang(tmp_path):
    scores, utt2lang = _case(tmp_path, ["u1", "u2"], ["a", "b"], ["a", "b"],
                             [[1, 0], [0, 1]])
    utt2lang.write_text("u1 a\nu1 b\n")
    with pytest.raises(InputError, match=r"utt2lang:2: duplicate key 'u1'"):
        score_files(scores, utt2lang)
    utt2lang.write_text("u1 a\nu2 b c\n")
    with pytest.raises(InputError, match=r"utt2lang:2: .*expected one token"):
        score_files(scores, utt2lang)
    with pytest.raises(InputError, match="utt2lang file does not exist"):
        score_files(scores, tmp_path / "nope")


def test_closed_set_with_one_language_is_an_error(tmp_path):
    scores, utt2lang = _case(tmp_path, ["u1"], ["a"], ["a"], [[1.0]])
    with pytest.raises(ScoreFileError, match="at least two target languages"):
        score_files(scores, utt2lang)


def test_confusion_png_written_atomically(tmp_path):
    scores, utt2lang = _case(tmp_path, ["u1", "u2", "u3"], ["a", "b", "x"], ["a", "b"],
                             [[1, 0], [1, 0], [0, 1]])
    png = tmp_path / "plots" / "confusion.png"
    score_files(scores, utt2lang, confusion_png=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(png.parent)) == ["confusion.png"]
