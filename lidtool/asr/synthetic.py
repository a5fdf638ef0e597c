"""A small fake language for testing the recogniser without audio.

Phones are 3-state sources of Gaussian "MFCC" frames (the right neighbour shifts the last
state's mean a little, so context-dependent models have something to find); words are
random phone strings; utterances are word sequences with silence at the ends and at some
word boundaries. Written as a Kaldi data dir (text, utt2spk, spk2utt, feats.scp,
utt2num_frames) plus a lexicon and the true phone timings as a CTM.
"""
from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np

from lidtool.data.tables import invert, write_table
from lidtool.fileio import atomic_open

FRAME_SHIFT = 0.01
FRAME_LENGTH = 0.025


def make_fake_language(out_dir, *, num_utts: int = 40, num_phones: int = 6,
                       num_words: int = 12, dim: int = 13, num_spk: int = 4,
                       noise: float = 0.6, context_shift: float = 0.8,
                       short_phone_prob: float = 0.0, seed: int = 0) -> dict[str, Path]:
    """Write data dir `out_dir/data`, `out_dir/lexicon.txt`, `out_dir/timings.ctm`.
    With probability `short_phone_prob` a non-silence phone lasts only 2 frames (its
    middle state is skipped: fast speech), otherwise every state lasts 2-5 frames."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    phones = ["sil"] + [f"p{i}" for i in range(1, num_phones + 1)]
    means = {p: rng.normal(0, 2.0, size=(3, dim)) for p in phones}
    shift = {p: rng.normal(0, context_shift, size=dim) for p in phones}
    words = {}
    while len(words) < num_words:
        pron = tuple(rng.choice(phones[1:], size=int(rng.integers(2, 4))))
        words.setdefault(f"w{len(words):02d}", pron)
    with atomic_open(out / "lexicon.txt") as f:
        for w, pron in sorted(words.items()):
            f.write(f"{w} {' '.join(pron)}\n")
    text, u2s, u2n, feats, ctm = {}, {}, {}, {}, []
    wlist = sorted(words)
    for u in range(num_utts):
        spk = f"spk{u % num_spk}"
        utt = f"{spk}-u{u:03d}"
        ws = [wlist[i] for i in rng.integers(0, len(wlist), size=int(rng.integers(2, 5)))]
        seq = ["sil"]
        for i, w in enumerate(ws):
            seq += list(words[w])
            if i + 1 < len(ws) and rng.random() < 0.3:
                seq.append("sil")
        seq.append("sil")
        frames, t = [], 0
        spk_off = rng.normal(0, 0.2, size=dim)
        for i, p in enumerate(seq):
            right = seq[i + 1] if i + 1 < len(seq) else "sil"
            start = t
            short = short_phone_prob > 0 and p != "sil" and rng.random() < short_phone_prob
            for k in range(3):
                n = (0 if k == 1 else 1) if short else int(rng.integers(2, 6))
                mu = means[p][k] + (shift[right] if k == 2 else 0.0) + spk_off
                frames.append(mu + noise * rng.standard_normal((n, dim)))
                t += n
            # times such that frame i's centre (i * shift + length / 2) falls in its phone
            t0 = start * FRAME_SHIFT + (FRAME_LENGTH - FRAME_SHIFT) / 2
            ctm.append(f"{utt} 1 {t0:.4f} {(t - start) * FRAME_SHIFT:.4f} {p}")
        text[utt] = " ".join(ws)
        u2s[utt] = spk
        feats[utt] = np.concatenate(frames).astype(np.float32)
        u2n[utt] = t
    ark = (data / "feats.ark").resolve()
    kaldiio.save_ark(str(ark), dict(sorted(feats.items())), scp=str(data / "feats.scp"))
    write_table(data / "text", text)
    write_table(data / "utt2spk", u2s)
    write_table(data / "spk2utt", invert(u2s))
    write_table(data / "utt2num_frames", u2n)
    with atomic_open(out / "timings.ctm") as f:
        f.write("\n".join(ctm) + "\n")
    return {"data": data, "lexicon": out / "lexicon.txt", "timings": out / "timings.ctm"}
