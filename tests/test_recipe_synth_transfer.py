"""egs/synth_transfer: the held-out-synthesizer recipe runs on the template from a copy of its
own files (corpus to RESULTS_mini.md), every system is scored on every condition, and the
held-out-synthesizer test set shares no synthesizer voice with either training set. The run
is made with --ablation true: the two ablation systems are scored too (RESULTS_ablation_mini.md)
and leave the main table as it is. It is also made with --loso true: the leave-one-synthesizer-
out systems (Festival, and MBROLA where its voices are installed) are scored into
RESULTS_loso_mini.md, and their training sets lack the family their test set holds."""
import collections
import gzip
import json
import re
import subprocess

import pytest
import yaml

from recipes import run_copied_recipe

pytestmark = pytest.mark.slow

# system -> (its training set, its row label in RESULTS)
SYSTEMS = {"xvector_multi": ("train_multi", "TDNN x-vector, multi-synthesizer training"),
           "xvector_espeak": ("train_espeak", "TDNN x-vector, espeak-only training (control)")}
CONDITIONS = ("test_multi", "test_espeak", "test_heldout_synth")
# ablation systems (./run.sh --ablation true) -> (training set, row label in RESULTS_ablation)
ABLATION = {"xvector_multi": ("train_multi", "train_multi (reference)"),
            "xvector_multi_notransform": ("train_multi_plain",
                                          "train_multi_plain: no voice transform"),
            "xvector_multi_specaug": ("train_multi", "train_multi + time/coefficient masks")}
# leave-one-synthesizer-out (./run.sh --loso true): family -> (system, row label); MBROLA
# only where the voices train_multi uses are installed (they are optional, non-free)
LOSO = {"festival": ("xvector_multi_nofestival", "train_multi_nofestival: no Festival"),
        "mbrola": ("xvector_multi_nombrola", "train_multi_nombrola: no MBROLA")}
LOSO_REFERENCE = "train_multi (reference: both families)"
LOSO_CONDITIONS = ("test_festival", "test_mbrola", "test_multi", "test_heldout_synth")


def loso_families():
    from lidtool.corpora.synth.backends import get_synthesizer
    mbrola = get_synthesizer("mbrola")
    return ["festival"] + (["mbrola"] if all(mbrola.missing(v) is None
                                             for v in ("mb-us1", "mb-it3")) else [])


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo, pytestconfig):
    return run_copied_recipe(repo, "synth_transfer", tmp_path_factory.mktemp("egs"),
                             ["--mini", "true", "--ablation", "true", "--loso", "true",
                              "--loso-families", " ".join(loso_families())], pytestconfig)


def supervisions(recipe, name):
    path = recipe / "data_mini" / "manifests" / f"synth_supervisions_{name}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def voices(recipe, name):
    """{(language, synthesizer, voice): utterances} of a set, from its supervision manifest."""
    sups = supervisions(recipe, name)
    return collections.Counter((s["language"], s["custom"]["synthesizer"],
                                s["custom"]["synth_voice"]) for s in sups)


def pairs(counts):
    return {(synth, voice) for _, synth, voice in counts}


def per_lang(counts):
    out = collections.Counter()
    for (lang, _, _), n in counts.items():
        out[lang] += n
    return out


def table_rows(text, systems):
    """{label: numeric cells} of the systems' rows; every condition has its three numbers."""
    header = next(line for line in text.splitlines() if line.startswith("| System |"))
    for cond in CONDITIONS:
        for metric in ("Acc %", "EER %", "minCavg"):
            assert f"| {cond} {metric} |" in header, (cond, metric)
    rows = {}
    for _, label in systems.values():
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 1 + 3 * len(CONDITIONS), cells
        assert all(re.fullmatch(r"\d+\.\d+", c) for c in cells[1:]), cells
        rows[label] = cells[1:]
    return rows


def test_every_system_and_condition_has_numbers(recipe):
    text = (recipe / "RESULTS_mini.md").read_text()
    assert text.startswith("# egs/synth_transfer results")
    assert "    ./run.sh --mini true" in text
    table_rows(text, SYSTEMS)
    assert "train_multi_plain" not in text   # the ablation stays out of the main table
    assert "train_multi_no" not in text and "test_festival" not in text   # and the LOSO study
    for sys, (train, _) in SYSTEMS.items():
        assert f"data_mini/{train} " in (recipe / "exp_mini" / sys / "run.cmd").read_text()
        for cond in CONDITIONS:
            assert (recipe / "exp_mini" / sys / cond / "scores").is_file()


def test_ablation_systems_have_numbers(recipe):
    text = (recipe / "RESULTS_ablation_mini.md").read_text()
    assert text.startswith("# egs/synth_transfer ablation")
    rows = table_rows(text, ABLATION)
    main = table_rows((recipe / "RESULTS_mini.md").read_text(), SYSTEMS)
    # the reference row is the main table's multi-synthesizer system, the same run
    assert rows["train_multi (reference)"] == main[SYSTEMS["xvector_multi"][1]]
    assert (recipe / "conf" / "ablation_reading.md").read_text().strip() in text
    for sys, (train, _) in ABLATION.items():
        assert f"data_mini/{train} " in (recipe / "exp_mini" / sys / "run.cmd").read_text()
        for cond in CONDITIONS:
            assert (recipe / "exp_mini" / sys / cond / "scores").is_file()
    # the masks reach the trainer of the specaug variant only
    augment = {sys: yaml.safe_load((recipe / "exp_mini" / sys / "config.yaml").read_text())
               .get("augment", {}) for sys in ABLATION}
    assert augment["xvector_multi_specaug"]["time_mask_num"] == 2
    assert augment["xvector_multi_specaug"]["freq_mask_num"] == 2
    assert not augment["xvector_multi"].get("time_mask_num")
    assert not augment["xvector_multi_notransform"].get("time_mask_num")


def loso_rows(text):
    """{label: cells} of RESULTS_loso_mini.md; every condition has its three metrics."""
    header = next(line for line in text.splitlines() if line.startswith("| System |"))
    assert header.count("|") - 1 == 1 + 3 * len(LOSO_CONDITIONS)
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("System",):
            rows[cells[0]] = cells[1:]
    return rows


def test_loso_systems_have_numbers(recipe):
    text = (recipe / "RESULTS_loso_mini.md").read_text()
    assert text.startswith("# egs/synth_transfer: leave one synthesizer out")
    assert (recipe / "conf" / "loso_reading.md").read_text().strip() in text
    rows = loso_rows(text)
    families = loso_families()
    number = re.compile(r"\d+\.\d+")
    for family in families:
        system, label = LOSO[family]
        assert all(number.fullmatch(c) for c in rows[label]), rows[label]
        assert f"data_mini/train_multi_no{family} " in \
            (recipe / "exp_mini" / system / "run.cmd").read_text()
    # the reference (both families) has its own numbers on every test set a family added
    ref = rows[LOSO_REFERENCE]
    for k, cond in enumerate(LOSO_CONDITIONS):
        if cond.removeprefix("test_") in families or cond in ("test_multi", "test_heldout_synth"):
            assert all(number.fullmatch(c) for c in ref[3 * k:3 * k + 3]), (cond, ref)
    # ... the same as in the main table on the main test sets (one trained system)
    main = table_rows((recipe / "RESULTS_mini.md").read_text(), SYSTEMS)
    main_multi = main[SYSTEMS["xvector_multi"][1]]
    assert ref[6:9] == main_multi[0:3] and ref[9:12] == main_multi[6:9]
    if "mbrola" not in families:
        assert "not run" in text


def test_loso_training_sets_leave_their_family_out(recipe):
    multi = voices(recipe, "train_multi")
    for family in loso_families():
        reduced, test = voices(recipe, f"train_multi_no{family}"), voices(recipe, f"test_{family}")
        # train_multi without the family: no voice of it, the others from train_multi, the
        # same utterances per language
        assert family not in {synth for _, synth, _ in reduced}
        assert pairs(reduced) <= pairs(multi)
        assert {synth for _, synth, _ in reduced} == \
            {synth for _, synth, _ in multi} - {family}
        assert per_lang(reduced) == per_lang(multi)
        # the test set: only that family's train_multi voices, none of which the reduced set
        # used (the reference system saw them, the reduced one did not)
        assert test and {synth for _, synth, _ in test} == {family}
        assert pairs(test) <= pairs(multi) and not pairs(test) & pairs(reduced)


def test_plain_set_is_train_multi_without_voice_transform(recipe):
    multi, plain = supervisions(recipe, "train_multi"), supervisions(recipe, "train_multi_plain")
    assert all(s["custom"]["voice"].get("transform") for s in multi)
    assert not any(s["custom"]["voice"].get("transform") for s in plain)
    counts_multi, counts_plain = voices(recipe, "train_multi"), voices(recipe, "train_multi_plain")
    assert per_lang(counts_plain) == per_lang(counts_multi)
    assert {synth for _, synth, _ in counts_plain} == {synth for _, synth, _ in counts_multi}
    assert not pairs(voices(recipe, "test_heldout_synth")) & pairs(counts_plain)


def test_heldout_set_shares_no_synthesizer_voice_with_training(recipe):
    multi, espeak = voices(recipe, "train_multi"), voices(recipe, "train_espeak")
    held = voices(recipe, "test_heldout_synth")
    assert pairs(held) and not pairs(held) & (pairs(multi) | pairs(espeak))
    assert "espeak" not in {synth for _, synth, _ in held}
    # what the comparison rests on: the multi set really mixes synthesizers, the control is
    # espeak-only, and both have the same languages and utterances per language
    assert {synth for _, synth, _ in multi} >= {"espeak", "festival"}
    assert {synth for _, synth, _ in espeak} == {"espeak"}
    assert per_lang(multi) == per_lang(espeak)
    # in-domain test sets: the voice families of their training set, other speakers
    assert pairs(voices(recipe, "test_multi")) <= pairs(multi)
    assert pairs(voices(recipe, "test_espeak")) <= pairs(espeak)


def test_rerun_skips_training_and_gives_the_same_table(recipe):
    final = recipe / "exp_mini" / "xvector_multi" / "final.pt"
    mtime = final.stat().st_mtime_ns
    rows = [line for line in (recipe / "RESULTS_mini.md").read_text().splitlines()
            if line.startswith("|")]
    run = subprocess.run(["./run.sh", "--mini", "true", "--stage", "5"], cwd=recipe,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "exp_mini/xvector_multi is done; skipping" in run.stderr
    assert "exp_mini/xvector_espeak is done; skipping" in run.stderr
    assert final.stat().st_mtime_ns == mtime
    assert [line for line in (recipe / "RESULTS_mini.md").read_text().splitlines()
            if line.startswith("|")] == rows


def test_help(recipe):
    run = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0 and "--mini" in run.stdout
