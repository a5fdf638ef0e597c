"""egs/synth_xlsr --mini true, from a copy of its own files: corpus, pretraining on three
sets, the fine-tuning grid, Figure 4 and Table 3 runs, and RESULTS_mini.md in which every
table cell has a number; the pretrained systems loaded the encoder and nothing else."""
import json
import re

import pytest

from recipes import run_copied_recipe

pytestmark = pytest.mark.slow

GRID_TABLES = ("Table 1: 7 languages", "Table 1, held-out", "Table 2: 25 languages",
               "Table 2, held-out")
INIT_LABELS = ("no pretraining (scratch)", "pretrained: English only (pre_en)",
               "pretrained: 7 languages (pre_7)", "pretrained: 25 languages (pre_25)")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo, pytestconfig):
    return run_copied_recipe(repo, "synth_xlsr", tmp_path_factory.mktemp("egs"),
                             ["--mini", "true"], pytestconfig)


def section(text, title_start):
    """The markdown table rows ({label: cells}) of the section whose title starts so."""
    lines = text.split(f"### {title_start}", 1)[1].split("\n### ", 1)[0].splitlines()
    rows = {}
    for line in lines:
        if line.startswith("| ") and not line.startswith("| System |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_table_cell_has_a_number(recipe):
    text = (recipe / "RESULTS_mini.md").read_text()
    number = re.compile(r"\d+\.\d")
    for title in GRID_TABLES:
        rows = section(text, title)
        assert sorted(rows) == sorted(INIT_LABELS), (title, rows)
        for cells in rows.values():
            assert len(cells) == 3 and all(number.fullmatch(c) for c in cells), (title, cells)
    blocks = section(text, "Figure 4")
    assert sorted(blocks) == ["k = 1", "k = 2"]          # the mini encoder has 2 blocks
    pooling = section(text, "Table 3")
    assert sorted(pooling) == sorted(["avg", "max", "avg+max", "avg+max+min", "cls"])
    for cells in [*blocks.values(), *pooling.values()]:
        assert len(cells) == 1 and number.fullmatch(cells[0]), cells
    png = recipe / "exp_mini" / "figure4_blocks.png"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_pretrained_systems_load_the_encoder_only(recipe):
    exp = recipe / "exp_mini"
    for p in ("en", "7", "25"):
        assert (exp / f"pre_{p}" / "w2v_pre" / "final.pt").is_file()
        report = json.loads((exp / f"ft25_small_{p}" / "w2v_ft" / "init_report.json")
                            .read_text())
        assert report["path"].endswith(f"pre_{p}/w2v_pre/final.pt")
        assert "backbone.encoder.feat_mean" in report["loaded"]
        assert all(n.startswith("classifier.") for n in report["missing"])
        assert not report["unexpected"]
    assert not (exp / "ft25_small_scratch" / "w2v_ft" / "init_report.json").exists()
    # keep_blocks 1: the second block of the pretrained encoder is not loaded
    report = json.loads((exp / "blocks_1" / "w2v_ft" / "init_report.json").read_text())
    assert any(".layers.1." in n for n in report["unexpected"])


def test_budgets_are_nested_and_spread_over_speakers(recipe):
    data = recipe / "data_mini"

    def table(name, what):
        return dict(line.split() for line in (data / name / what).read_text().splitlines())

    pool_spk = table("train25_pool", "utt2spk")
    speakers_per_lang = {}
    for utt, lang in table("train25_pool", "utt2lang").items():
        speakers_per_lang.setdefault(lang, set()).add(pool_spk[utt])
    before = set()
    for budget, n in (("small", 1), ("mid", 2), ("large", 4)):      # mini budgets 1,2,4
        utt2lang, utt2spk = table(f"train25_{budget}", "utt2lang"), table(f"train25_{budget}",
                                                                          "utt2spk")
        assert before <= set(utt2lang)
        before = set(utt2lang)
        for lang, spks in speakers_per_lang.items():
            utts = [u for u, x in utt2lang.items() if x == lang]
            assert len(utts) == n
            # as many speakers as utterances, up to the pool's speakers of the language
            assert len({utt2spk[u] for u in utts}) == min(n, len(spks))
        assert set(table(f"train7_{budget}", "utt2lang")) <= set(utt2lang)
