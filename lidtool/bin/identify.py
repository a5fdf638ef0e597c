"""Identify the language of audio files with a trained model: top languages + probabilities.

    lidtool identify --model exp/<sys>/final.pt [--top 3] [--device auto] a.wav b.flac ...

Features are computed from the raw audio exactly as in training (the feature, VAD and CMN
options saved in final.pt); other sample rates are resampled to the model's. One line per
file: `<file> <lang1> <p1> <lang2> <p2> ...`, best first (posterior probabilities).
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("lidtool.identify")


def add_arguments(p):
    p.add_argument("--model", required=True, help="exp/<sys>/final.pt")
    p.add_argument("--top", type=int, default=3, help="how many languages to print per file")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    p.add_argument("audio", nargs="+", help="audio files (anything soundfile reads)")


def identify(model, info, path: str, device, model_path: str) -> list[tuple[str, float]]:
    """[(language, probability)] sorted best first for one audio file."""
    from lidtool.data.audio import read_audio
    from lidtool.inference.audio import features_from_audio
    from lidtool.inference.scoring import forward_utterance
    samples, sr = read_audio(path, where=(path, None))
    feats = features_from_audio(samples, sr, info.get("features"), where=(path, None),
                                model_path=model_path)
    probs = np.exp(forward_utterance(model, feats, device))
    order = np.argsort(-probs)
    return [(info["classes"][i], float(probs[i])) for i in order]


def main(args):
    from lidtool.inference.checks import check_model_features
    from lidtool.train.checkpoint import load_model
    from lidtool.train.distributed import pick_device
    device = pick_device(args.device)
    model, info = load_model(args.model, device)
    check_model_features(info, args.model)
    for path in args.audio:
        ranked = identify(model, info, path, device, args.model)[: max(1, args.top)]
        print(path + "".join(f" {lang} {p:.4f}" for lang, p in ranked), flush=True)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
