"""egs/synth_lid on its default corpus (conf/corpus_mini.yaml: espeak-ng, Festival and flite
voices, per-speaker voice transforms on every set, held-out-synthesizer OLR tests) end to
end with --mini: every table has numbers, the held-out-synthesizer set shares no
(synthesizer, voice) with a training set (from the manifests), the training sets mix
synthesizers where the language has a second one, and the numbers equal the golden file
(two runs gave identical tables). The espeak-only variant: test_recipe_synth_lid.py."""
import collections
import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from recipes import run_copied_recipe
from test_recipe_synth_lid import assert_same_rows, sections

pytestmark = pytest.mark.slow

OLR = "olr_xvector_softmax olr_mt_apm_aam"
GOLDEN = Path(__file__).resolve().parent / "data" / "synth_lid_RESULTS_mini_multisynth.md"
TRAIN_SETS = ("train_olr", "train_lt")
HELDOUT, INDOMAIN = "test_olr_heldout_synth", "test_olr_synth"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo, pytestconfig):
    return run_copied_recipe(repo, "synth_lid", tmp_path_factory.mktemp("egs"),
                             ["--mini", "true", "--olr-systems", OLR], pytestconfig)


def supervisions(recipe, name):
    path = recipe / "data_mini" / "manifests" / f"synth_supervisions_{name}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def voices(recipe, name):
    """{language: {(synthesizer, voice)}} of a set, from its supervision manifest."""
    out = collections.defaultdict(set)
    for s in supervisions(recipe, name):
        out[s["language"]].add((s["custom"]["synthesizer"], s["custom"]["synth_voice"]))
    return out


def all_pairs(by_lang):
    return set().union(*by_lang.values())


def test_heldout_synth_set_shares_no_voice_with_training(recipe):
    held = voices(recipe, HELDOUT)
    assert set(held) == {"en-us", "en-scotland", "ru"}
    used = set().union(*(all_pairs(voices(recipe, s)) for s in TRAIN_SETS))
    assert all_pairs(held) and not all_pairs(held) & used
    assert "espeak" not in {synth for synth, _ in all_pairs(held)}
    # the in-domain control: the same languages, only voices train_olr uses
    indomain, train = voices(recipe, INDOMAIN), voices(recipe, "train_olr")
    assert set(indomain) == set(held)
    for lang, pairs in indomain.items():
        assert pairs <= train[lang], lang


def test_training_sets_mix_synthesizers_where_a_language_has_several(recipe):
    """Every language of train_olr uses only the voices the corpus config gives it for
    training, and more than one synthesizer where it gives several (en-us: espeak-ng +
    Festival + flite voices, 3 speakers in the mini corpus; the held-out voices of en-scotland
    and ru are their only second synthesizer, so they train on espeak-ng); every utterance of
    every set has its speaker's voice transform."""
    cfg = yaml.safe_load((recipe / "conf" / "corpus_mini.yaml").read_text())
    train = voices(recipe, "train_olr")
    assert set(train) == set(cfg["sets"]["train_olr"]["langs"])
    several = set()
    for lang, pairs in train.items():
        declared = {tuple(p.split(":")) for p in cfg["sets"]["train_olr"]["voices"][lang]}
        synths = {synth for synth, _ in pairs}
        assert all((synth, voice) in declared or (synth, "*") in declared
                   for synth, voice in pairs), lang
        if len({synth for synth, _ in declared}) > 1:
            several.add(lang)
            assert len(synths) >= 2, (lang, pairs)
        else:
            assert synths == {"espeak"}, lang
    assert several == {"en-us"}
    for name in cfg["sets"]:
        sups = supervisions(recipe, name)
        assert sups and all(s["custom"]["voice"].get("transform") for s in sups), name
    # the long tail and the phone recogniser's sets stay espeak-only (alignments)
    for name in ("train_lt", "asr_cmn", "asr_cmn_dev"):
        assert {synth for synth, _ in all_pairs(voices(recipe, name))} == {"espeak"}, name
    assert all(s.get("alignment") for s in supervisions(recipe, "asr_cmn"))


def test_heldout_table_has_every_number(recipe):
    text = (recipe / "RESULTS_mini.md").read_text()
    assert "    ./run.sh --mini true --olr-systems" in text
    title = next(t for t in sections(text) if t.startswith("Held-out synthesizers"))
    header, *rows = sections(text)[title]
    for cond in (INDOMAIN, HELDOUT):
        for metric in ("Acc %", "EER %", "minCavg"):
            assert f"| {cond} {metric} |" in header, (cond, metric)
    for label in ("x-vector softmax", "MT APM-AAM"):
        row = next(r for r in rows if r.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        # 2 conditions x 3 metrics, then the held-out accuracy per language
        assert len(cells) == 10 and all(re.fullmatch(r"\d+\.\d+", c) for c in cells[1:]), cells
    for lang in ("en-scotland", "en-us", "ru"):
        assert f"| {HELDOUT} {lang} Acc % |" in header, lang
    assert "no long-tailed held-out-synthesizer set" in text
    for system in OLR.split():
        for cond in (INDOMAIN, HELDOUT):
            assert (recipe / "exp_mini" / system / cond / "scores_backend").is_file()


def test_mini_results_equal_the_golden_run(recipe):
    """Same seed, same installed voices (no MBROLA in the mini corpus) -> the same numbers in
    every cell of every table as the committed run."""
    ours, ref = sections((recipe / "RESULTS_mini.md").read_text()), sections(GOLDEN.read_text())
    assert list(ours) == list(ref) and len(ref) == 5
    for title, rows in ref.items():
        assert_same_rows(ours[title], rows, title)


def test_other_corpus_config_on_the_same_data_dir_is_refused(recipe):
    """data_mini/ records the config it was made from; another one fails before any stage."""
    assert (recipe / "data_mini" / "corpus_config.yaml").read_text() == \
        (recipe / "conf" / "corpus_mini.yaml").read_text()
    run = subprocess.run(["./run.sh", "--mini", "true", "--corpus-config",
                          "conf/corpus_espeak_mini.yaml", "--stage", "7"], cwd=recipe,
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "data_mini was made from another corpus config" in run.stderr
    bad = subprocess.run(["./run.sh", "--corpus", "festival"], cwd=recipe, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "--corpus must be multisynth or espeak" in bad.stderr
