"""lidtool.asr.tree: questions, greedy splitting (gains, leaf budget), lookups."""
import numpy as np
import pytest

from lidtool.asr.tree import (ContextTree, TreeStats, accumulate_tree_stats, build_tree,
                              cluster_phones, gauss_objf, phone_instances)
from lidtool.errors import ConfigError

FLOOR = 1e-3


def _stats(seed=0, phones=(1, 2, 3, 4, 5), D=3):
    """Events (left, phone, right, state): the right context shifts the mean strongly
    when it is in {4, 5}, so good trees split on the right context."""
    rng = np.random.default_rng(seed)
    keys, cnt, xs, xxs = [], [], [], []
    for c in phones:
        for l in (0,) + phones:
            for r in (0,) + phones:
                for s in range(3):
                    n = int(rng.integers(20, 60))
                    mu = np.full(D, float(c)) + (4.0 if r in (4, 5) else 0.0) + 0.3 * s
                    x = mu + rng.normal(size=(n, D))
                    keys.append((l, c, r, s))
                    cnt.append(n)
                    xs.append(x.sum(0))
                    xxs.append((x * x).sum(0))
    return TreeStats(np.array(keys), np.array(cnt, float), np.array(xs), np.array(xxs))


def _leaf_objf(tree, stats):
    tot = 0.0
    for idx in tree.leaf_events:
        tot += float(gauss_objf(stats.count[idx].sum(), stats.x[idx].sum(0),
                                stats.xx[idx].sum(0), FLOOR))
    return tot


def test_splits_increase_objective_and_respect_budget():
    st = _stats()
    qs = cluster_phones(st, [1, 2, 3, 4, 5], [1], FLOOR)
    roots = 5 * 3
    tree0, log0 = build_tree(st, qs, roots, num_states=3, var_floor=FLOOR, min_count=10)
    assert tree0.num_pdfs == roots and log0 == []
    base = _leaf_objf(tree0, st)
    prev = base
    for budget in (roots + 1, 20, 30, 60):
        tree, log = build_tree(st, qs, budget, num_states=3, var_floor=FLOOR, min_count=10)
        assert tree.num_pdfs <= budget
        assert len(log) == tree.num_pdfs - roots
        assert all(gain > 0 for _, gain in log)
        # the logged objective climbs by each gain, and matches the leaves' real objective
        objs = [o for o, _ in log]
        assert all(b > a for a, b in zip(objs, objs[1:]))
        final = _leaf_objf(tree, st)
        assert final == pytest.approx(base + sum(g for _, g in log), rel=1e-9)
        assert final > prev
        prev = final
    # every event is looked up to the leaf holding its statistics
    for pdf, idx in enumerate(tree.leaf_events):
        for k in st.keys[idx]:
            assert tree.pdf((k[0], k[1], k[2]), int(k[3])) == pdf
    # the strong right-context effect is found: the first split asks about the right phone
    first = tree.roots[(1, 0)]
    assert not isinstance(first, int) and first[0] == 2 and {4, 5} in (
        set(first[1]) - {0}, {1, 2, 3, 4, 5} - set(first[1]))


def test_budget_below_roots_is_an_error():
    st = _stats()
    qs = cluster_phones(st, [1, 2, 3, 4, 5], [1], FLOOR)
    with pytest.raises(ConfigError, match="num_leaves=10 is below"):
        build_tree(st, qs, 10, num_states=3, var_floor=FLOOR)


def test_min_count_blocks_small_leaves():
    st = _stats()
    qs = cluster_phones(st, [1, 2, 3, 4, 5], [1], FLOOR)
    tree, _ = build_tree(st, qs, 500, num_states=3, var_floor=FLOOR, min_count=400)
    for idx in tree.leaf_events:
        assert st.count[idx].sum() >= 400


def test_questions_and_boundary():
    st = _stats()
    qs = cluster_phones(st, [1, 2, 3, 4, 5], [1], FLOOR)
    assert frozenset({1, 0}) in qs                      # silence joins the boundary symbol
    assert all(frozenset([p]) in qs or frozenset([p, 0]) in qs for p in (2, 3, 4, 5))
    assert frozenset({0, 1, 2, 3, 4, 5}) in qs


def test_monophone_tree_json_roundtrip_and_instances():
    t = ContextTree.monophone([1, 2, 3], 3)
    assert t.num_pdfs == 9 and t.pdf((2,), 1) == 4
    t2 = ContextTree.from_json(t.to_json())
    assert t2.to_json() == t.to_json()
    pdfs = np.array([0, 0, 1, 2, 2, 0, 1, 2, 3, 4, 5])    # phone 1 twice, then phone 2
    assert phone_instances(t.pdf2phone, t.pdf2state, pdfs) == [(1, 0, 5), (1, 5, 8),
                                                              (2, 8, 11)]
    feats = np.arange(22, dtype=float).reshape(11, 2)
    st = accumulate_tree_stats([(feats, pdfs)], t.pdf2phone, t.pdf2state)
    keys = {tuple(k): c for k, c in zip(st.keys.tolist(), st.count)}
    assert keys[(0, 1, 1, 0)] == 2 and keys[(1, 1, 2, 2)] == 1 and keys[(1, 2, 0, 1)] == 1
    assert st.count.sum() == 11
