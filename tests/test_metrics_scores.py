"""Score file reading/writing: values, order, round trips, and file:line errors."""
import os

import numpy as np
import pytest

from lidtool.errors import InputError
from lidtool.metrics.scores import ScoreFileError, read_lang_list, read_scores, write_scores


def _write(path, text):
    path.write_text(text)
    return path


GOOD = """u2 b 0.5
u2 a -0.5
u1 a 1
u1 b -1e-1
"""


def test_read_scores_matrix_in_sorted_order(tmp_path):
    s = read_scores(_write(tmp_path / "scores", GOOD))
    assert s.utts == ["u1", "u2"] and s.langs == ["a", "b"]
    assert s.matrix.tolist() == [[1.0, -0.1], [-0.5, 0.5]]
    assert s.lines == {"u2": 1, "u1": 3}
    assert s.ignored_langs == []


def test_read_scores_with_target_list_keeps_order_and_ignores_others(tmp_path):
    path = _write(tmp_path / "scores", GOOD + "u1 c 3\nu2 c 4\n")
    s = read_scores(path, langs=["b", "a"])
    assert s.langs == ["b", "a"]
    assert s.matrix.tolist() == [[-0.1, 1.0], [0.5, -0.5]]
    assert s.ignored_langs == ["c"]


@pytest.mark.parametrize("text, line, words", [
    ("u1 a 1\nu1 b\n", 2, "got 2 fields"),
    ("u1 a 1\n\nu1 b 2\n", 2, "empty line"),
    ("u1 a 1\nu1 b 2 3\n", 2, "got 4 fields"),
    ("u1 a 1\nu1 b abc\n", 2, "'abc' is not a number"),
    ("u1 a nan\nu1 b 1\n", 1, "not finite"),
    ("u1 a 1\nu1 b -inf\n", 2, "not finite"),
    ("u1 a 1\nu1 b 2\nu1 a 3\n", 3, "duplicate score for utterance 'u1', language 'a' "
     "(first at line 1)"),
    ("u1 a 1\nu1 b 2\nu2 b 3\n", 3, "utterance 'u2' has no score for language 'a'"),
])
def test_bad_score_files_name_file_and_line(tmp_path, text, line, words):
    path = _write(tmp_path / "scores", text)
    with pytest.raises(ScoreFileError) as err:
        read_scores(path)
    assert isinstance(err.value, InputError)
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert words in str(err.value)


def test_bad_score_files_without_line(tmp_path):
    with pytest.raises(ScoreFileError, match="does not exist"):
        read_scores(tmp_path / "nope")
    with pytest.raises(ScoreFileError, match="empty"):
        read_scores(_write(tmp_path / "empty", ""))
    with pytest.raises(ScoreFileError, match="no scores at all for target language.* zz"):
        read_scores(_write(tmp_path / "scores", GOOD), langs=["a", "zz"])
    with pytest.raises(ScoreFileError, match="repeats a"):
        read_scores(tmp_path / "scores", langs=["a", "a"])


def test_write_scores_sorted_and_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    utts = ["utt3", "utt1", "utt2"]
    langs = ["zh", "en"]
    matrix = rng.normal(size=(3, 2)) * 10.0 ** rng.integers(-6, 6, size=(3, 2))
    path = tmp_path / "out" / "scores"
    write_scores(path, utts, langs, matrix)
    lines = path.read_text().splitlines()
    assert [ln.split()[:2] for ln in lines] == [
        ["utt1", "en"], ["utt1", "zh"], ["utt2", "en"], ["utt2", "zh"],
        ["utt3", "en"], ["utt3", "zh"]]
    back = read_scores(path, langs=langs)
    order = [utts.index(u) for u in back.utts]
    assert np.array_equal(back.matrix, matrix[order])   # bit-exact
    # float32 keeps short text and reads back to the same float32
    m32 = np.array([[0.1, -2.5]], dtype=np.float32)
    write_scores(path, ["u"], ["a", "b"], m32)
    assert path.read_text() == "u a 0.1\nu b -2.5\n"
    assert np.array_equal(read_scores(path).matrix.astype(np.float32), m32)


def test_write_scores_refuses_nan_and_leaves_no_partial_file(tmp_path):
    path = tmp_path / "scores"
    write_scores(path, ["u1"], ["a", "b"], [[1.0, 2.0]])
    before = path.read_text()
    with pytest.raises(ScoreFileError, match="non-finite score nan for utterance 'u2', "
                       "language 'b'"):
        write_scores(path, ["u1", "u2"], ["a", "b"], [[1.0, 2.0], [3.0, np.nan]])
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["scores"]


def test_write_scores_checks_shape_and_ids(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        write_scores(tmp_path / "s", ["u1"], ["a", "b"], [[1.0]])
    with pytest.raises(ValueError, match="repeated utterance"):
        write_scores(tmp_path / "s", ["u1", "u1"], ["a"], [[1.0], [2.0]])
    with pytest.raises(ValueError, match="whitespace"):
        write_scores(tmp_path / "s", ["u 1"], ["a"], [[1.0]])
    assert not (tmp_path / "s").exists()


def test_read_lang_list(tmp_path):
    path = _write(tmp_path / "langs", "zh 0\nen 1\n\nfr\n")
    assert read_lang_list(path) == ["zh", "en", "fr"]
    _write(path, "zh\nen\nzh\n")
    with pytest.raises(ScoreFileError, match=r"langs:3: language 'zh' repeated"):
        read_lang_list(path)
