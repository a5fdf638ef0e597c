"""lidtool.features.io: checked readers and the atomic ark/scp writer."""
from __future__ import annotations

import kaldiio
import numpy as np
import pytest

from lidtool.errors import FeatureError
from lidtool.features.io import ArkScpWriter, read_matrix, read_vector, split_job


def test_writer_round_trip(tmp_path):
    mats = {"a": np.arange(6, dtype=np.float32).reshape(3, 2), "b": np.ones((4, 2), np.float32)}
    with ArkScpWriter(tmp_path / "arks", "mfcc_train", 2) as w:
        for key, mat in mats.items():
            w.write(key, mat)
    ark = tmp_path / "arks" / "raw_mfcc_train.2.ark"
    scp = tmp_path / "arks" / "raw_mfcc_train.2.scp"
    lines = scp.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["a", "b"]
    assert all(line.split()[1].startswith(f"{ark.resolve()}:") for line in lines)
    for line in lines:
        key, rx = line.split()
        np.testing.assert_array_equal(read_matrix(rx), mats[key])
    loaded = kaldiio.load_scp(str(scp))
    np.testing.assert_array_equal(loaded["b"], mats["b"])
    assert sorted(p.name for p in (tmp_path / "arks").iterdir()) == [ark.name, scp.name]


def test_failure_inside_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ArkScpWriter(tmp_path, "fbank_x", 1) as w:
            w.write("a", np.zeros((2, 2)))
            raise RuntimeError("job died")
    assert list(tmp_path.iterdir()) == []


def test_rewrite_replaces_old_outputs(tmp_path):
    with ArkScpWriter(tmp_path, "x", 1) as w:
        w.write("a", np.zeros((2, 2)))
    with ArkScpWriter(tmp_path, "x", 1) as w:
        w.write("a", np.full((3, 2), 7.0))
    rx = (tmp_path / "raw_x.1.scp").read_text().split()[1]
    np.testing.assert_array_equal(read_matrix(rx), np.full((3, 2), 7.0))


def test_unsorted_keys_rejected(tmp_path):
    with pytest.raises(ValueError, match="sorted"):
        with ArkScpWriter(tmp_path, "x", 1) as w:
            w.write("b", np.zeros((1, 1)))
            w.write("a", np.zeros((1, 1)))
    assert not (tmp_path / "raw_x.1.scp").exists() and not (tmp_path / "raw_x.1.ark").exists()


def test_nan_features_raise_feature_error_naming_the_file(tmp_path):
    bad = np.ones((3, 2), np.float32)
    bad[1, 1] = np.nan
    ark, scp = tmp_path / "f.ark", tmp_path / "feats.scp"
    kaldiio.save_ark(str(ark), {"u1": np.ones((2, 2), np.float32), "u2": bad}, scp=str(scp))
    rx = dict(line.split() for line in scp.read_text().splitlines())
    assert read_matrix(rx["u1"]).shape == (2, 2)
    with pytest.raises(FeatureError) as err:
        read_matrix(rx["u2"])
    assert str(ark) in str(err.value) and "NaN" in str(err.value)
    with pytest.raises(FeatureError) as err:
        read_matrix(rx["u2"], where=(str(scp), 2))
    assert f"{scp}:2" in str(err.value)
    inf = np.array([0.0, np.inf], np.float32)
    kaldiio.save_ark(str(tmp_path / "v.ark"), {"u": inf}, scp=str(tmp_path / "vad.scp"))
    with pytest.raises(FeatureError, match="NaN/Inf"):
        read_vector((tmp_path / "vad.scp").read_text().split()[1])


def test_missing_and_wrong_shape(tmp_path):
    with pytest.raises(FeatureError, match="does not exist"):
        read_matrix(str(tmp_path / "nope.ark:10"), where=("data/feats.scp", 3))
    kaldiio.save_ark(str(tmp_path / "m.ark"), {"u": np.ones((2, 3), np.float32),
                                               "v": np.ones(4, np.float32)},
                     scp=str(tmp_path / "m.scp"))
    rx = dict(line.split() for line in (tmp_path / "m.scp").read_text().splitlines())
    with pytest.raises(FeatureError, match="not a vector"):
        read_vector(rx["u"])
    with pytest.raises(FeatureError, match="not a matrix"):
        read_matrix(rx["v"])
    assert read_vector(rx["v"]).shape == (4,)


def test_split_job(tmp_path):
    assert split_job(tmp_path / "data" / "train" / "split4" / "3") == ("train", 3)
    assert split_job(tmp_path / "data" / "train" / "split2spk" / "1") == ("train", 1)
    assert split_job(tmp_path / "data" / "train") == ("train", 1)
