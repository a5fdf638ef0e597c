"""Phonetic decision trees: the context-dependency of the acoustic model.

`ContextTree` maps (phone context window, HMM state) to a pdf-id. There is one root per
(central phone, HMM state) ("non-shared roots"), so every pdf belongs to exactly one
phone and state; internal nodes ask "is the phone at window position `pos` in set Q?".
A monophone model is the tree with one leaf per root and context width 1.

kaldi-hmm-gmm cannot build trees (no acc-tree-stats / build-tree) and its
ContextDependency cannot be constructed from Python except as a monophone, so the tree
is ours and the graphs are expanded with it directly (see graph.py). Building follows
Kaldi's logic:
  * `accumulate_tree_stats`: Gaussian stats (count, sum, sum of squares) per
    (left, phone, right, state) from monophone alignments (acc-tree-stats);
  * `cluster_phones`: top-down binary clustering of the phones by their Gaussian
    stats; every cluster of the hierarchy is a question (cluster-phones +
    compile-questions); the utterance boundary (phone 0) joins the silence questions;
  * `build_tree`: greedy splitting, always the split with the largest likelihood gain
    over all leaves, until the leaf budget is reached or no split gains more than
    `min_gain` or leaves would get fewer than `min_count` frames (build-tree).
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from lidtool.errors import ConfigError

LOG_2PI = float(np.log(2 * np.pi))


class ContextTree:
    """roots[(phone, state)] -> node; node = pdf id (int) or (pos, frozenset, yes, no)."""

    def __init__(self, context_width: int, central: int, num_states: int, roots: dict):
        self.context_width = context_width
        self.central = central
        self.num_states = num_states
        self.roots = roots
        leaves = {}
        for (phone, state), node in roots.items():
            for pdf in _leaves(node):
                if pdf in leaves:
                    raise ValueError(f"pdf {pdf} is reached from two roots")
                leaves[pdf] = (phone, state)
        self.num_pdfs = len(leaves)
        if sorted(leaves) != list(range(self.num_pdfs)):
            raise ValueError("tree leaves must be numbered 0..num_pdfs-1")
        self.pdf2phone = np.array([leaves[p][0] for p in range(self.num_pdfs)], np.int32)
        self.pdf2state = np.array([leaves[p][1] for p in range(self.num_pdfs)], np.int32)

    @classmethod
    def monophone(cls, phones: list[int], num_states: int) -> "ContextTree":
        roots = {}
        for i, (p, s) in enumerate(itertools.product(phones, range(num_states))):
            roots[(p, s)] = i
        return cls(1, 0, num_states, roots)

    def pdf(self, window, state: int) -> int:
        node = self.roots[(window[self.central], state)]
        while not isinstance(node, int):
            pos, qset, yes, no = node
            node = yes if window[pos] in qset else no
        return node

    def pdfs(self, window) -> tuple[int, ...]:
        return tuple(self.pdf(window, s) for s in range(self.num_states))

    # ---------------------------------------------------------------- io (json-able)
    def to_json(self) -> dict:
        return {"context_width": self.context_width, "central": self.central,
                "num_states": self.num_states,
                "roots": [[p, s, _node_json(n)] for (p, s), n in sorted(self.roots.items())]}

    @classmethod
    def from_json(cls, d: dict) -> "ContextTree":
        return cls(d["context_width"], d["central"], d["num_states"],
                   {(p, s): _node_from(n) for p, s, n in d["roots"]})


def _leaves(node):
    if isinstance(node, int):
        yield node
    else:
        yield from _leaves(node[2])
        yield from _leaves(node[3])


def _node_json(node):
    if isinstance(node, int):
        return node
    pos, qset, yes, no = node
    return [pos, sorted(qset), _node_json(yes), _node_json(no)]


def _node_from(n):
    if isinstance(n, int):
        return n
    return (n[0], frozenset(n[1]), _node_from(n[2]), _node_from(n[3]))


# -------------------------------------------------------------------- statistics
@dataclass
class TreeStats:
    """Gaussian statistics per event (left, phone, right, state)."""
    keys: np.ndarray      # [E, 4] int
    count: np.ndarray     # [E]
    x: np.ndarray         # [E, D]
    xx: np.ndarray        # [E, D]


def phone_instances(pdf2phone, pdf2state, pdfs: np.ndarray) -> list[tuple[int, int, int]]:
    """Per-frame pdfs -> [(phone, start_frame, end_frame)] (a new instance starts when
    the phone changes or the HMM state goes back)."""
    ph = pdf2phone[pdfs]
    st = pdf2state[pdfs]
    new = np.r_[True, (ph[1:] != ph[:-1]) | (st[1:] < st[:-1])]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(pdfs)]
    return [(int(ph[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def accumulate_tree_stats(items, pdf2phone, pdf2state) -> TreeStats:
    """items: iterable of (feats [T, D], per-frame monophone pdfs [T])."""
    acc: dict[tuple, list] = {}
    for feats, pdfs in items:
        pdfs = np.asarray(pdfs)
        inst = phone_instances(pdf2phone, pdf2state, pdfs)
        for i, (phone, s, e) in enumerate(inst):
            left = inst[i - 1][0] if i > 0 else 0
            right = inst[i + 1][0] if i + 1 < len(inst) else 0
            for state in np.unique(pdf2state[pdfs[s:e]]):
                fr = feats[s:e][pdf2state[pdfs[s:e]] == state].astype(np.float64)
                key = (left, phone, right, int(state))
                a = acc.setdefault(key, [0.0, 0.0, 0.0])
                a[0] += fr.shape[0]
                a[1] = a[1] + fr.sum(0)
                a[2] = a[2] + (fr * fr).sum(0)
    if not acc:
        raise ValueError("no frames to accumulate tree statistics from")
    keys = sorted(acc)
    return TreeStats(np.array(keys, dtype=np.int64), np.array([acc[k][0] for k in keys]),
                     np.stack([acc[k][1] for k in keys]), np.stack([acc[k][2] for k in keys]))


def gauss_objf(count, x, xx, var_floor) -> np.ndarray:
    """Log-likelihood of data under its own ML diagonal Gaussian (variance floored).
    Works on stacked stats: count [...], x/xx [..., D]."""
    count = np.asarray(count, dtype=np.float64)
    safe = np.maximum(count, 1e-10)[..., None]
    mean = x / safe
    var = np.maximum(xx / safe - mean ** 2, var_floor)
    D = x.shape[-1]
    # sum_t log N(x_t) = -0.5 [n D log 2pi + n sum log var + sum_t (x_t-mu)^2/var]
    sq = (xx - 2 * mean * x + count[..., None] * mean ** 2) / var
    out = -0.5 * (count * D * LOG_2PI + count * np.log(var).sum(-1) + sq.sum(-1))
    return np.where(count > 0, out, 0.0)


# -------------------------------------------------------------------- questions
def cluster_phones(stats: TreeStats, phones: list[int], silence: list[int],
                   var_floor, state: int | None = None) -> list[frozenset]:
    """Top-down binary clustering of `phones` by the Gaussian stats of their frames
    (HMM state `state`, or all states); returns every cluster of the hierarchy (the
    question set), with the boundary symbol 0 added to clusters holding silence."""
    sel = np.ones(len(stats.count), bool) if state is None else stats.keys[:, 3] == state
    D = stats.x.shape[1]
    per = {p: [0.0, np.zeros(D), np.zeros(D)] for p in phones}
    for k, c, x, xx in zip(stats.keys[sel], stats.count[sel], stats.x[sel], stats.xx[sel]):
        if k[1] in per:
            a = per[k[1]]
            a[0] += c
            a[1] += x
            a[2] += xx
    seen = [p for p in phones if per[p][0] > 0]
    questions: set[frozenset] = set()

    def objf(group):
        c = sum(per[p][0] for p in group)
        return float(gauss_objf(c, sum(per[p][1] for p in group),
                                sum(per[p][2] for p in group), var_floor))

    def split(group: list[int]):
        questions.add(frozenset(group))
        if len(group) < 2:
            return
        a, b = _two_means(group, per, objf)
        split(a)
        split(b)

    if seen:
        split(seen)
    questions.update(frozenset([p]) for p in phones)
    sil = set(silence)
    return sorted({q | {0} if q & sil else q for q in questions},
                  key=lambda q: (len(q), sorted(q)))


def _two_means(group, per, objf, iters: int = 10):
    """Split a phone group in two, maximising the summed Gaussian log-likelihood."""
    means = {p: per[p][1] / per[p][0] for p in group}
    order = sorted(group, key=lambda p: per[p][0], reverse=True)
    seed_a = order[0]
    seed_b = max(group, key=lambda p: float(np.sum((means[p] - means[seed_a]) ** 2)))
    if seed_b == seed_a:
        seed_b = order[1]
    a, b = {seed_a}, {seed_b}
    for p in order:
        if p in (seed_a, seed_b):
            continue
        ga = objf(a | {p}) - objf(a)
        gb = objf(b | {p}) - objf(b)
        (a if ga >= gb else b).add(p)
    for _ in range(iters):
        moved = False
        for p in list(group):
            src, dst = (a, b) if p in a else (b, a)
            if len(src) == 1:
                continue
            gain = (objf(src - {p}) + objf(dst | {p})) - (objf(src) + objf(dst))
            if gain > 1e-6:
                src.remove(p)
                dst.add(p)
                moved = True
        if not moved:
            break
    return sorted(a), sorted(b)


# -------------------------------------------------------------------- building
@dataclass
class _Leaf:
    root: tuple
    idx: np.ndarray       # indices into the stats of the events this leaf holds
    objf: float
    best: tuple | None    # (gain, pos, question, yes_idx, no_idx)


def build_tree(stats: TreeStats, questions: list[frozenset], num_leaves: int, *,
               num_states: int, var_floor, min_count: float = 100.0,
               min_gain: float = 0.0, phones: list[int] | None = None):
    """Greedy likelihood-gain splitting to at most `num_leaves` leaves.

    Returns (tree, log) where log lists (objf_before, gain) per split in order.
    Every phone in `phones` (default: the phones seen in stats) gets a root per state,
    even without data (its leaf is then initialised from the monophone)."""
    keys = stats.keys
    phones = sorted(set(int(p) for p in keys[:, 1])) if phones is None else sorted(phones)
    root_keys = [(p, s) for p in phones for s in range(num_states)]
    if num_leaves < len(root_keys):
        raise ConfigError("<num_leaves>", f"num_leaves={num_leaves} is below the number of "
                          f"(phone, state) roots ({len(root_keys)})",
                          fix="raise --num-leaves")
    qlist = [q for q in questions if q]
    nv = int(max(keys[:, [0, 2]].max(), max(max(q) for q in qlist))) + 1
    qmat = np.zeros((len(qlist), nv), dtype=np.float64)
    for i, q in enumerate(qlist):
        qmat[i, sorted(q)] = 1.0

    def evaluate(root, idx) -> tuple | None:
        if len(idx) < 2:
            return None
        c, x, xx = stats.count[idx], stats.x[idx], stats.xx[idx]
        tot_c, tot_x, tot_xx = c.sum(), x.sum(0), xx.sum(0)
        base = float(gauss_objf(tot_c, tot_x, tot_xx, var_floor))
        best = None
        for pos in (0, 2):
            ctx = keys[idx, pos]
            member = qmat[:, ctx]
            yc = member @ c
            ok = (yc >= min_count) & (tot_c - yc >= min_count)
            if not ok.any():
                continue
            yx, yxx = member @ x, member @ xx
            gain = (gauss_objf(yc, yx, yxx, var_floor)
                    + gauss_objf(tot_c - yc, tot_x - yx, tot_xx - yxx, var_floor) - base)
            gain = np.where(ok, gain, -np.inf)
            qi = int(np.argmax(gain))
            if best is None or gain[qi] > best[0]:
                yes = member[qi] > 0
                best = (float(gain[qi]), pos, qlist[qi], idx[yes], idx[~yes])
        return best

    leaves: list[_Leaf] = []
    by_root = {rk: [] for rk in root_keys}
    for i, k in enumerate(keys):
        rk = (int(k[1]), int(k[3]))
        if rk in by_root:
            by_root[rk].append(i)
    heap = []
    counter = itertools.count()
    for rk in root_keys:
        idx = np.array(by_root[rk], dtype=np.int64)
        o = float(gauss_objf(stats.count[idx].sum(), stats.x[idx].sum(0),
                             stats.xx[idx].sum(0), var_floor)) if len(idx) else 0.0
        leaf = _Leaf(rk, idx, o, evaluate(rk, idx))
        leaves.append(leaf)
        if leaf.best is not None and leaf.best[0] > min_gain:
            heapq.heappush(heap, (-leaf.best[0], next(counter), leaf))
    # splits are recorded as a map from a leaf object to (pos, q, yes_leaf, no_leaf)
    splits: dict[int, tuple] = {}
    log = []
    total = sum(lf.objf for lf in leaves)
    n_leaves = len(leaves)
    while heap and n_leaves < num_leaves:
        _, _, leaf = heapq.heappop(heap)
        gain, pos, q, yes_idx, no_idx = leaf.best
        children = []
        for sub in (yes_idx, no_idx):
            o = float(gauss_objf(stats.count[sub].sum(), stats.x[sub].sum(0),
                                 stats.xx[sub].sum(0), var_floor))
            ch = _Leaf(leaf.root, sub, o, evaluate(leaf.root, sub))
            children.append(ch)
            if ch.best is not None and ch.best[0] > min_gain:
                heapq.heappush(heap, (-ch.best[0], next(counter), ch))
        log.append((total, gain))
        total += gain
        splits[id(leaf)] = (pos, q, children[0], children[1])
        n_leaves += 1

    pdf_counter = itertools.count()
    leaf_pdf: list[_Leaf] = []

    def to_node(leaf):
        if id(leaf) in splits:
            pos, q, y, n = splits[id(leaf)]
            return (pos, q, to_node(y), to_node(n))
        leaf_pdf.append(leaf)
        return next(pdf_counter)

    roots = {lf.root: to_node(lf) for lf in leaves}
    tree = ContextTree(3, 1, num_states, roots)
    tree.leaf_events = [lf.idx for lf in leaf_pdf]   # stats indices per pdf, for init
    return tree, log
