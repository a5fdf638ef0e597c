"""Decoding and alignment graphs (kaldifst), built with our context tree.

Kaldi builds HCLG = H o C o L o G with a ContextDependency object; kaldi-hmm-gmm cannot
construct a triphone ContextDependency from Python, so we do the C step with
`kaldifst.compose_context` (which returns the phone window of every input label) and the
H step by direct arc expansion: every arc whose label is a phone window becomes the HMM
of that context-dependent phone, with the pdfs the tree gives. The expanded graph's input
labels are pdf-id + 1 (pdfs are unique to one (phone, state), see tree.py), so the frame
label is read straight off the best path, and its weights hold the LM/lexicon costs plus
the HMM transition costs. HMM chains are shared between arcs that reach the same state
with the same pdf sequence (what minimisation of H o CLG would merge).
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import kaldifst
import kaldilm
import numpy as np

from lidtool.asr.model import AcousticModel
from lidtool.errors import ConfigError
from lidtool.fileio import atomic_open, atomic_path


def context_expand(fst, model: AcousticModel, disambig: list[int] | None = None):
    """C o fst for the model's context width: (fst', windows per input label)."""
    cw = model.tree.context_width
    return kaldifst.compose_context(list(disambig or []), cw, model.tree.central, fst)


def expand_hmm(cfst, windows, model: AcousticModel, *, transition_scale: float = 1.0):
    """Replace every phone-window arc of `cfst` by its HMM (see module docstring)."""
    cw, central, S = model.tree.context_width, model.tree.central, model.num_states
    loop_cost = -np.log(model.self_loop) * transition_scale
    fwd_cost = -np.log(model.forward) * transition_scale
    skip = model.skip > 0
    skip_cost = -np.log(np.where(skip, model.skip, 1.0)) * transition_scale
    out = kaldifst.StdVectorFst()
    n = cfst.num_states
    for _ in range(n):
        out.add_state()
    out.start = cfst.start
    chains: dict[tuple, int] = {}
    pdf_cache: dict[int, tuple] = {}
    Arc = kaldifst.StdArc
    for s in kaldifst.StateIterator(cfst):
        fw = cfst.final(s)
        if fw != kaldifst.TropicalWeight.zero:
            out.set_final(s, fw.value)
        for arc in kaldifst.ArcIterator(cfst, s):
            lab = arc.ilabel
            win = windows[lab] if lab else ()
            if len(win) != cw or win[central] <= 0:
                out.add_arc(s, Arc(0, arc.olabel, arc.weight.value, arc.nextstate))
                continue
            pdfs = pdf_cache.get(lab)
            if pdfs is None:
                pdfs = pdf_cache[lab] = model.tree.pdfs(win)
            key = (pdfs, arc.nextstate)
            first = chains.get(key)
            if first is None:
                phone = win[central]
                first = out.add_state()
                states = [first] + [out.add_state() for _ in range(S - 1)]
                for k, q in enumerate(states):
                    out.add_arc(q, Arc(pdfs[k] + 1, 0, float(loop_cost[phone, k]), q))
                    moves = [(1, fwd_cost[phone, k])]
                    if skip[phone, k]:
                        moves.append((2, skip_cost[phone, k]))
                    for step, cost in moves:
                        if k + step < S:      # into a later state: consumes its frame
                            out.add_arc(q, Arc(pdfs[k + step] + 1, 0, float(cost),
                                               states[k + step]))
                        else:                 # leaves the phone
                            out.add_arc(q, Arc(0, 0, float(cost), arc.nextstate))
                chains[key] = first
            out.add_arc(s, Arc(pdfs[0] + 1, arc.olabel, arc.weight.value, first))
    kaldifst.arcsort(out)
    return out


def training_graph(phone_fst, model: AcousticModel):
    """Alignment graph of one transcript (its phone FST from Lang.utterance_fst)."""
    cfst, windows = context_expand(phone_fst, model)
    return expand_hmm(cfst, windows, model)


# -------------------------------------------------------------------- phone LM
def write_phone_bigram_arpa(path, sequences, phones: list[str], discount: float = 0.5) -> None:
    """Absolute-discounting phone bigram with back-off to an add-one unigram, as ARPA.
    `sequences` are phone-name lists (one per utterance); every phone in `phones` gets a
    unigram, so the loop can output any phone."""
    vocab = [p for p in phones if p != "<eps>"]
    uni = Counter({p: 1.0 for p in vocab + ["</s>"]})
    bi: Counter = Counter()
    hist: Counter = Counter()
    for seq in sequences:
        toks = ["<s>"] + list(seq) + ["</s>"]
        for a, b in zip(toks[:-1], toks[1:]):
            if b not in uni:
                raise ConfigError(path, f"phone '{b}' is not in the phone set")
            uni[b] += 1
            bi[(a, b)] += 1
            hist[a] += 1
    tot = sum(uni.values())
    p_uni = {w: c / tot for w, c in uni.items()}
    succ: dict[str, list] = {}
    for (a, b), c in bi.items():
        succ.setdefault(a, []).append((b, c))
    lines_bi, bow = [], {}
    for a, lst in sorted(succ.items()):
        n = hist[a]
        probs = {b: (c - discount) / n for b, c in lst}
        left = discount * len(lst) / n
        rest = 1.0 - sum(p_uni.get(b, 0.0) for b in probs)
        # back-off mass goes to unseen successors in proportion to their unigram
        bow[a] = left / rest if rest > 1e-12 else 1e-10
        for b, p in sorted(probs.items()):
            lines_bi.append(f"{math.log10(p):.6f}\t{a} {b}")
    with atomic_open(path) as f:
        f.write("\n\\data\\\n")
        f.write(f"ngram 1={len(p_uni) + 1}\nngram 2={len(lines_bi)}\n\n\\1-grams:\n")
        f.write(f"-99\t<s>\t{math.log10(bow.get('<s>', 1.0)):.6f}\n")
        for w in vocab + ["</s>"]:
            b = f"\t{math.log10(bow[w]):.6f}" if w in bow else ""
            f.write(f"{math.log10(p_uni[w]):.6f}\t{w}{b}\n")
        f.write("\n\\2-grams:\n")
        f.write("\n".join(lines_bi) + "\n\n\\end\\\n")


def phone_lm_fst(arpa_path, lm_symbols_path, out_path=None):
    """ARPA phone bigram -> G (kaldilm.arpa2fst; backoff arcs carry #0)."""
    if out_path is None:
        out_path = Path(arpa_path).with_suffix(".G.fst")
    with atomic_path(out_path) as tmp:
        kaldilm.arpa2fst(str(arpa_path), tmp, disambig_symbol="#0",
                         read_symbol_table=str(lm_symbols_path), max_arpa_warnings=0)
    return kaldifst.StdVectorFst.read(str(out_path))


def phone_loop_graph(G, model: AcousticModel, disambig_id: int, *,
                     transition_scale: float = 1.0):
    """HCLG-like phone-loop graph: context-expand G (a phone acceptor) and attach HMMs."""
    kaldifst.arcsort(G)
    cfst, windows = context_expand(G, model, [disambig_id])
    return expand_hmm(cfst, windows, model, transition_scale=transition_scale)
