import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from lidtool.errors import ConfigError
from lidtool.metrics.results import (TableSpec, build_table, final_train_stats, load_specs,
                                     write_results)
from lidtool.metrics.scores import write_scores

from conftest import write_lines

DIRS = {"exp": "exp", "data": "data"}

LANGS = ["a", "b", "c", "d"]


def _setup(tmp_path, n_wrong: dict[str, int]):
    """Condition 'test' has 8 utts (2 per language); system s gets n_wrong[s] wrong argmaxes."""
    utts = [f"u{i}" for i in range(8)]
    truth = {u: LANGS[i // 2] for i, u in enumerate(utts)}
    write_lines_dir = tmp_path / "data" / "test"
    write_lines_dir.mkdir(parents=True)
    write_lines(write_lines_dir / "utt2lang", [f"{u} {truth[u]}" for u in utts])
    for system, wrong in n_wrong.items():
        m = np.full((8, 4), -2.0)
        for i, u in enumerate(utts):
            j = LANGS.index(truth[u])
            m[i, (j + 1) % 4 if i < wrong else j] = 1.0
        write_scores(tmp_path / "exp" / system / "test" / "scores", utts, LANGS, m)
    return utts


def test_table_accuracy_and_not_run(tmp_path):
    _setup(tmp_path, {"good": 0, "bad": 4})
    spec = TableSpec(title="T", systems=["bad", "good", "absent"], conditions=["test"],
                     metrics=["accuracy", "eer"], labels={"good": "Good"})
    text, results = build_table(spec, tmp_path, DIRS)
    assert "| bad | 50.0 |" in text
    assert "| Good | 100.0 | 0.00 |" in text
    assert "absent" not in text.split("Configured")[0]
    assert "Configured but without score files (not run): absent." in text
    assert results["good"]["test"]["accuracy"] == 1.0


def test_ordering_comparison(tmp_path):
    _setup(tmp_path, {"x": 0, "y": 2, "z": 4})
    ref = {"x": {"test": {"accuracy": 0.5}}, "y": {"test": {"accuracy": 0.7}},
           "z": {"test": {"accuracy": 0.9}}}
    spec = TableSpec(title="T", systems=["x", "y", "z"], conditions=["test"],
                     metrics=["accuracy"], reference=ref, reference_source="paper")
    text, _ = build_table(spec, tmp_path, DIRS)
    # ours: x (100%) > y (75%) > z (50%); reference the reverse: every pair flips
    assert "0/3 pairs agree (tau -1.00); ours x > y > z; reversed: x vs y, x vs z, y vs z" in text


def test_group_accuracy_and_train_log(tmp_path):
    _setup(tmp_path, {"s": 2})          # u0, u1 (language a) wrong
    write_lines(tmp_path / "train_utt2lang", sorted(
        [f"t{i:02d} a" for i in range(9)] + [f"t{i:02d} b" for i in range(9, 15)] +
        [f"t{i:02d} c" for i in range(15, 18)] + ["t18 d"]))
    (tmp_path / "exp" / "s" / "train_log.jsonl").write_text(
        "".join(json.dumps({"step": i, "loss": float(10 - i)}) + "\n" for i in range(10)))
    spec = TableSpec(title="T3", systems=["s"], conditions=[], metrics=["accuracy"],
                     group_condition="test", group_train_utt2lang="train_utt2lang",
                     train_log="{exp}/{system}/train_log.jsonl")
    text, _ = build_table(spec, tmp_path, DIRS)
    # majority = a, b (4 test utts, 2 wrong) -> 50 %; minority c, d -> 100 %; last 10 % = 1 row
    assert "| s | 50.0 | 100.0 | 1.0000 |" in text
    assert "Majority languages (most training data): a, b; minority: c, d." in text


def test_per_language_accuracy_columns(tmp_path):
    _setup(tmp_path, {"s": 3, "t": 0})  # s: u0, u1 (a) and u2 (b) wrong
    spec = TableSpec(title="T", systems=["s", "t"], conditions=["test"], metrics=["accuracy"],
                     per_lang_condition="test")
    text, _ = build_table(spec, tmp_path, DIRS)
    assert "| System | test Acc % | test a Acc % | test b Acc % | test c Acc % | test d Acc % |" \
        in text
    assert "| s | 62.5 | 0.0 | 50.0 | 100.0 | 100.0 |" in text
    assert "| t | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |" in text


def test_final_train_stats_tail(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps({"loss": float(i)}) + "\n" for i in range(20)) +
                 json.dumps({"eval": 1}) + "\n")
    assert final_train_stats(p, ["loss"], tail=0.1) == {"loss": 18.5}


def test_bad_spec_is_a_config_error(tmp_path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "t", "systems": ["a"], "conditions": ["c"], "metrics": ["acc"]}]}))
    with pytest.raises(ConfigError, match=r"r.yaml: unknown metrics \['acc'\]"):
        load_specs(tmp_path / "r.yaml")


def test_include_puts_the_included_tables_first(tmp_path):
    """A spec's `include:` list (paths relative to it) contributes its tables before the
    spec's own; a missing file and a cycle are config errors naming the spec."""
    table = {"systems": ["a"], "conditions": ["c"], "metrics": ["accuracy"]}
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text(yaml.safe_dump(
        {"tables": [dict(table, title="T1"), dict(table, title="T2")]}))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(
        {"include": ["sub/base.yaml"], "tables": [dict(table, title="T3")]}))
    assert [s.title for s in load_specs(tmp_path / "r.yaml")] == ["T1", "T2", "T3"]
    (tmp_path / "only.yaml").write_text(yaml.safe_dump({"include": ["r.yaml"]}))
    assert [s.title for s in load_specs(tmp_path / "only.yaml")] == ["T1", "T2", "T3"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"include": ["nope.yaml"]}))
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read results spec"):
        load_specs(tmp_path / "bad.yaml")
    (tmp_path / "loop.yaml").write_text(yaml.safe_dump({"include": ["loop.yaml"]}))
    with pytest.raises(ConfigError, match=r"loop.yaml: results spec includes itself"):
        load_specs(tmp_path / "loop.yaml")
    (tmp_path / "empty.yaml").write_text(yaml.safe_dump({"include": []}))
    with pytest.raises(ConfigError, match=r"expected a mapping with a 'tables' list"):
        load_specs(tmp_path / "empty.yaml")


def test_make_results_cli(tmp_path):
    _setup(tmp_path, {"s": 0})
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "Table X", "systems": ["s"], "conditions": ["test"],
         "metrics": ["accuracy", "cavg"]}]}))
    subprocess.run(["lidtool", "make-results", str(tmp_path / "r.yaml"),
                    str(tmp_path / "RESULTS.md"), "--root", str(tmp_path),
                    "--command", "./run.sh --stage 7", "--dirs", "exp=exp", "data=data"],
                   check=True, capture_output=True)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "    ./run.sh --stage 7" in text and "### Table X" in text
    assert "| s | 100.0 | 0.0000 |" in text


def test_dirs_placeholders(tmp_path):
    _setup(tmp_path, {"s": 0})
    (tmp_path / "exp").rename(tmp_path / "exp_mini")
    spec = TableSpec(title="T", systems=["s"], conditions=["test"], metrics=["accuracy"])
    text, _ = build_table(spec, tmp_path, {"exp": "exp_mini", "data": "data"})
    assert "| s | 100.0 |" in text
    text, _ = build_table(spec, tmp_path, {"exp": "exp", "data": "data"})
    assert "Not run: none of its systems has score files (s)." in text


def test_library_has_no_default_directories(tmp_path):
    """The caller names every directory: the default paths' {exp}/{data} are not filled in
    by the library, and no recipe's directory name is known to it."""
    import lidtool.metrics.results as results
    _setup(tmp_path, {"s": 0})
    spec = TableSpec(title="T", systems=["s"], conditions=["test"], metrics=["accuracy"])
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \{data\}"):
        build_table(spec, tmp_path, {"exp": "exp"})
    assert not hasattr(results, "DEFAULT_DIRS")
    assert "olr_exp" not in Path(results.__file__).read_text()


def test_unknown_placeholder_names_the_spec_file_and_writes_nothing(tmp_path):
    _setup(tmp_path, {"s": 0})
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "T", "systems": ["s"], "conditions": ["test"], "metrics": ["accuracy"]},
        {"title": "OLR", "systems": ["s"], "conditions": ["test"], "metrics": ["eer"],
         "scores": "{olr_exp}/{system}/{condition}/scores"}]}))
    specs = load_specs(tmp_path / "r.yaml")
    with pytest.raises(ConfigError) as err:
        write_results(specs, tmp_path, tmp_path / "R.md", header="# R",
                      dirs={"exp": "exp", "data": "data"})
    assert str(err.value).startswith(f"{tmp_path / 'r.yaml'}: table 'OLR': unknown "
                                      "placeholder(s) {olr_exp}")
    assert "--dirs" in str(err.value)
    assert not (tmp_path / "R.md").exists()
    # the command line says the same, exit 1, no traceback
    run = subprocess.run(["lidtool", "make-results", str(tmp_path / "r.yaml"),
                          str(tmp_path / "R.md"), "--root", str(tmp_path),
                          "--dirs", "exp=exp", "data=data"], capture_output=True, text=True)
    assert run.returncode == 1 and "r.yaml: table 'OLR': unknown placeholder" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "R.md").exists()
    run = subprocess.run(["lidtool", "make-results", str(tmp_path / "r.yaml"),
                          str(tmp_path / "R.md"), "--dirs", "exp"], capture_output=True, text=True)
    assert run.returncode == 1 and "--dirs takes NAME=DIR items, not 'exp'" in run.stderr


def test_source_is_not_a_yaml_key(tmp_path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "T", "systems": ["s"], "conditions": ["test"], "metrics": ["accuracy"],
         "source": "x"}]}))
    with pytest.raises(ConfigError, match="unknown table keys \\['source'\\]"):
        load_specs(tmp_path / "r.yaml")


def test_log_columns_are_whole_run_means(tmp_path):
    _setup(tmp_path, {"s": 0})
    (tmp_path / "exp" / "s" / "train_log.jsonl").write_text(
        "".join(json.dumps({"loss": float(10 - i), "phone_conf": i / 10}) + "\n"
                for i in range(10)))
    spec = TableSpec(title="T", systems=["s"], conditions=["test"], metrics=["accuracy"],
                     train_log="{exp}/{system}/train_log.jsonl", log_columns=["phone_conf"])
    text, _ = build_table(spec, tmp_path, {"exp": "exp", "data": "data"})
    # final loss: last 10 % (1 row) = 1.0; phone_conf: mean of 0.0 .. 0.9 = 0.45
    assert "| s | 100.0 | 1.0000 | 0.4500 |" in text
    assert "mean phone_conf (whole run)" in text


def test_make_results_lists_every_invocation(tmp_path):
    _setup(tmp_path, {"s": 0})
    (tmp_path / "reading.md").write_text("## Reading\n\nPlain words.\n")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "T", "systems": ["s"], "conditions": ["test"], "metrics": ["accuracy"]}]}))
    subprocess.run(["lidtool", "make-results", str(tmp_path / "r.yaml"),
                    str(tmp_path / "RESULTS.md"), "--root", str(tmp_path),
                    "--command", "./run.sh\n./run.sh --stage 5 --lt-systems x\n",
                    "--epilogue", str(tmp_path / "reading.md"), "--dirs", "exp=exp",
                    "data=data"],
                   check=True, capture_output=True)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "Produced by (these invocations, in order):\n\n    ./run.sh\n    ./run.sh --stage 5" \
        " --lt-systems x\n" in text
    assert text.endswith("| s | 100.0 |\n\n## Reading\n\nPlain words.\n")


def test_table_with_no_results_says_not_run(tmp_path):
    _setup(tmp_path, {"s": 0})
    spec = TableSpec(title="T1", systems=["a", "b"], conditions=["test"], metrics=["eer"],
                     reference={"a": {"test": {"eer": 1.0}}})
    text, results = build_table(spec, tmp_path, {"exp": "exp", "data": "data"})
    assert results == {}
    assert text == "### T1\n\nNot run: none of its systems has score files (a, b).\n"


def test_values_table_copies_measurements_and_marks_missing(tmp_path):
    (tmp_path / "exp" / "asr").mkdir(parents=True)
    (tmp_path / "exp" / "asr" / "summary.json").write_text(json.dumps(
        {"held_out": {"align": {"frame_accuracy": 0.7322}, "phone_loop": {"per": 0.5}},
         "tri1": {"num_pdfs": 1500}}))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "ASR", "file": "{asr_exp}/asr/summary.json",
         "rows": [["frame acc %", "held_out.align.frame_accuracy", "pct"],
                  ["PER %", "held_out.phone_loop.per", "pct"],
                  ["pdfs", "tri1.num_pdfs", "int"],
                  ["absent", "held_out.align.nothing", "fix4"]]}]}))
    specs = load_specs(tmp_path / "r.yaml")
    write_results(specs, tmp_path, tmp_path / "R.md", header="# R",
                  dirs={"asr_exp": "exp"})
    text = (tmp_path / "R.md").read_text()
    assert "| frame acc % | 73.2 |" in text and "| PER % | 50.0 |" in text
    assert "| pdfs | 1500 |" in text and "| absent | not run |" in text
    # no file at all: every row is "not run"
    write_results(specs, tmp_path, tmp_path / "R2.md", header="# R",
                  dirs={"asr_exp": "elsewhere"})
    assert "| frame acc % | not run |" in (tmp_path / "R2.md").read_text()


def test_values_table_bad_row_is_a_config_error(tmp_path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"tables": [
        {"title": "ASR", "file": "x.json", "rows": [["acc", "a.b", "percent"]]}]}))
    with pytest.raises(ConfigError, match="r.yaml: values-table row"):
        load_specs(tmp_path / "r.yaml")
