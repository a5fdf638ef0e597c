"""The distinct batch sampler, and the existing kinds' batches pinned to their old values."""
import hashlib

import numpy as np
import pytest

from lidtool.train.samplers import ChunkBatchSampler

LABELS = np.array([0] * 13 + [1] * 7 + [2] * 3 + [3] * 9 + [4] * 5)   # class 5 has none


def sampler(kind, batch=12, labels=LABELS, **kw):
    return ChunkBatchSampler(kind, labels, batch, min_chunk=20, max_chunk=60, seed=304,
                             num_classes=6, **kw)


def test_existing_kinds_draw_the_batches_they_always_drew():
    # digests of the batches drawn before the distinct kind existed (commit a9f9045)
    expect = {"random": "5e3014e4115307ad", "balanced": "78a232a79a237c63",
              "alpha": "b40c3016f9b91ccf"}
    for kind, digest in expect.items():
        s = sampler(kind, alpha=0.3)
        if kind == "balanced":
            s.restrict([0, 1, 3, 4])
        text = repr([s.batch(k) for k in (0, 1, 5, 17)])
        assert hashlib.sha256(text.encode()).hexdigest()[:16] == digest, kind


def classes_of(batch):
    return LABELS[[i for i, _, _ in batch]]


def test_distinct_batches_hold_one_chunk_of_each_of_b_classes():
    s = sampler("distinct", batch=4)
    seen = set()
    for step in range(40):
        cls = classes_of(s.batch(step))
        assert len(cls) == 4 and len(set(cls.tolist())) == 4
        seen.update(cls.tolist())
    assert seen == {0, 1, 2, 3, 4}          # every class with utterances, never class 5
    # all five classes in a batch of five: each batch is a permutation of them
    full = sampler("distinct", batch=5)
    assert all(sorted(classes_of(full.batch(k))) == [0, 1, 2, 3, 4] for k in range(5))
    # utterances within a class vary across steps
    utts_of_0 = {i for k in range(40) for i, _, _ in full.batch(k) if LABELS[i] == 0}
    assert len(utts_of_0) > 5


def test_distinct_is_a_pure_function_of_seed_and_step_and_resumes():
    a, b = sampler("distinct", batch=3), sampler("distinct", batch=3)
    assert a.batch(9) == b.batch(9) and a.batch(9) != a.batch(10)
    a.restrict([1, 2, 4])
    assert all(sorted(classes_of(a.batch(k))) == [1, 2, 4] for k in range(10))
    c = sampler("distinct", batch=3)
    c.load_state_dict(a.state_dict())
    assert [c.batch(k) for k in range(5)] == [a.batch(k) for k in range(5)]


def test_distinct_ranks_split_the_global_batch():
    full = sampler("distinct", batch=4)
    parts = [sampler("distinct", batch=4, rank=r, world_size=2) for r in range(2)]
    assert parts[0].batch(3) + parts[1].batch(3) == full.batch(3)


def test_distinct_needs_enough_classes():
    with pytest.raises(ValueError, match=r"6 different classes in a batch \(train.batch_size\) but only 5"):
        sampler("distinct", batch=6)
    s = sampler("distinct", batch=4)
    with pytest.raises(ValueError, match="only 3 classes"):
        s.restrict([0, 1, 5, 2])                # class 5 has no utterances
    assert s.allowed is None and len(set(classes_of(s.batch(0)))) == 4   # left as it was


def test_trainer_names_the_config_when_the_batch_is_too_large(tmp_path):
    from lidtool.errors import ConfigError
    from lidtool.train.config import load_config
    from lidtool.train.data import load_train_data
    from lidtool.train.trainer import Trainer
    from tests.test_train_data import TINY_CONFIG, make_feats_dir, write_tiny_config
    d = make_feats_dir(tmp_path / "d", counts=(3, 3), frames=(60, 70))
    cfg_path = write_tiny_config(tmp_path / "c.yaml",
                                 TINY_CONFIG.replace("name: random", "name: distinct"))
    cfg = load_config(cfg_path)
    with pytest.raises(ConfigError, match="distinct sampler") as err:
        Trainer(cfg, load_train_data(d, min_frames=20), tmp_path / "exp", device="cpu",
                source=str(cfg_path))
    assert str(cfg_path) in str(err.value)
