"""Directory-level steps of the recogniser (what the lidtool asr-* commands run).

Experiment dirs follow Kaldi: exp/mono/{final.mdl, ali.scp, ali_phone.scp, phone_seq,
pdf_info.txt, history.json}; exp/tri1/{tree.json, questions.txt, tree_log.json,
0.mdl, final.mdl, ali.scp, ...}. Alignments hold one pdf-id per frame.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from lidtool.asr import evaluate as ev
from lidtool.asr import train as tr
from lidtool.asr.labels import phone_outputs, read_int_vectors, write_int_vectors
from lidtool.asr.lang import Lang
from lidtool.asr.model import AcousticModel
from lidtool.asr.tree import accumulate_tree_stats, build_tree, cluster_phones
from lidtool.errors import ConfigError, DataDirError
from lidtool.fileio import atomic_open

log = logging.getLogger(__name__)


def _write_json(path, obj) -> None:
    with atomic_open(path) as f:
        json.dump(obj, f, indent=1, default=float)


def write_alignments(out_dir, model: AcousticModel, alis: dict) -> None:
    out = Path(out_dir)
    phones, seqs = {}, {}
    for utt, pdfs in alis.items():
        phones[utt], seqs[utt] = phone_outputs(model.tree.pdf2phone, model.tree.pdf2state,
                                               model.phones, pdfs)
    write_int_vectors(out / "ali.ark", out / "ali.scp", alis)
    write_int_vectors(out / "ali_phone.ark", out / "ali_phone.scp", phones)
    with atomic_open(out / "phone_seq") as f:
        for utt in sorted(seqs):
            f.write(f"{utt} {' '.join(seqs[utt])}\n")
    model.write_pdf_info(out / "pdf_info.txt")
    with atomic_open(out / "num_pdfs") as f:
        f.write(f"{model.num_pdfs}\n")


def train_mono_dir(data_dir, lang_dir, out_dir, opts: tr.TrainOptions, *,
                   delta_order: int = 2, cmn: bool = True,
                   topology: str = "3state", num_states: int = 3) -> AcousticModel:
    lang = Lang.load(lang_dir)
    utts = tr.load_corpus(data_dir, lang, raw=True)
    model = tr.init_mono_model(lang, utts, num_states=num_states, topology=topology,
                               delta_order=delta_order, cmn=cmn,
                               var_floor_scale=opts.var_floor_scale)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "0.mdl")
    alis = tr.equal_align_all(model, utts, opts.seed)
    alis, hist = tr.train(model, utts, alis, opts)
    model.save(out / "final.mdl")
    write_alignments(out, model, alis)
    _write_json(out / "history.json", {"options": asdict(opts), "iterations": hist})
    return model


def build_tree_dir(data_dir, lang_dir, mono_dir, out_dir, *, num_leaves: int,
                   min_count: float = 100.0, min_gain: float = 0.0) -> AcousticModel:
    """Tree statistics from the monophone alignments, phone questions, greedy tree;
    writes tree.json, questions.txt, tree_log.json and the initial model 0.mdl."""
    mono = AcousticModel.load(Path(mono_dir) / "final.mdl")
    lang = Lang.load(lang_dir)
    alis = read_int_vectors(Path(mono_dir) / "ali.scp")
    utts = tr.load_corpus(data_dir, lang, mono)
    items = [(u.feats, alis[u.utt]) for u in utts if u.utt in alis]
    if not items:
        raise DataDirError(Path(mono_dir) / "ali.scp", "no alignment matches the data dir")
    stats = accumulate_tree_stats(items, mono.tree.pdf2phone, mono.tree.pdf2state)
    questions = cluster_phones(stats, mono.phone_ids, mono.silence, mono.var_floor,
                               state=1)
    tree, split_log = build_tree(stats, questions, num_leaves,
                                 num_states=mono.num_states, var_floor=mono.var_floor,
                                 min_count=min_count, min_gain=min_gain,
                                 phones=mono.phone_ids)
    model = tr.init_tri_model(mono, tree, stats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "questions.txt") as f:
        for q in questions:
            f.write(" ".join(mono.phones[p] if p else "<boundary>" for p in sorted(q)) + "\n")
    _write_json(out / "tree.json", tree.to_json())
    _write_json(out / "tree_log.json", {"num_leaves": tree.num_pdfs, "splits": split_log})
    model.save(out / "0.mdl")
    log.info("tree: %d leaves from %d events, %d questions", tree.num_pdfs,
             len(stats.count), len(questions))
    return model


def train_tri_dir(data_dir, lang_dir, mono_dir, tri_dir, opts: tr.TrainOptions) -> AcousticModel:
    tri_dir = Path(tri_dir)
    mono = AcousticModel.load(Path(mono_dir) / "final.mdl")
    model = AcousticModel.load(tri_dir / "0.mdl")
    lang = Lang.load(lang_dir)
    utts = tr.load_corpus(data_dir, lang, model)
    mono_alis = read_int_vectors(Path(mono_dir) / "ali.scp")
    alis = {u.utt: tr.convert_alignment(mono, model.tree, mono_alis[u.utt])
            for u in utts if u.utt in mono_alis}
    alis, hist = tr.train(model, utts, alis, opts, start_gauss=model.gmm.total_gauss())
    model.save(tri_dir / "final.mdl")
    write_alignments(tri_dir, model, alis)
    _write_json(tri_dir / "history.json", {"options": asdict(opts), "iterations": hist})
    return model


def align_dir(data_dir, lang_dir, model_path, out_dir, *, acoustic_scale: float = 0.1,
              beam: float = 10.0, retry_beam: float = 40.0) -> dict:
    """Forced alignment of a data dir with transcripts (Kaldi align_si.sh)."""
    model = AcousticModel.load(model_path)
    lang = Lang.load(lang_dir)
    if lang.phones != model.phones:
        raise ConfigError(Path(lang_dir) / "phones.txt",
                          f"phone set differs from the one of {model_path}")
    utts = tr.load_corpus(data_dir, lang, model)
    opts = tr.TrainOptions(acoustic_scale=acoustic_scale, beam=beam, retry_beam=retry_beam)
    alis, score, failed = tr.realign_all(model, utts, opts)
    if not alis:
        raise DataDirError(data_dir, "no utterance could be aligned")
    write_alignments(out_dir, model, alis)
    return {"utts": len(alis), "failed": failed, "objf": score}


def evaluate_dir(model_path, timings_path, *, ali_scp=None, phone_seq=None,
                 frame_shift: float = 0.01, frame_length: float = 0.025) -> dict:
    """Frame accuracy of `ali_scp` and PER of `phone_seq` against the true timings."""
    model = AcousticModel.load(model_path)
    sil = model.phones[model.silence[0]]
    timings = ev.read_timings(timings_path)
    result: dict = {}
    if ali_scp is not None:
        alis = read_int_vectors(ali_scp)
        hyp = {u: [model.phones[p] for p in model.tree.pdf2phone[a]] for u, a in alis.items()}
        ref = {u: ev.timings_to_frames(timings[u], len(hyp[u]), sil,
                                       frame_shift=frame_shift, frame_length=frame_length)
               for u in hyp if u in timings}
        if not ref:
            raise DataDirError(timings_path, f"no utterance of {ali_scp} has timings")
        acc, n = ev.frame_accuracy(hyp, ref)
        result.update(frame_accuracy=acc, frames=n, ali_utts=len(ref),
                      timed_utts_without_ali=len(set(timings) - set(hyp)))
        result.update(ev.frame_accuracy_detail(hyp, ref, sil))
    if phone_seq is not None:
        hyp_seq = {}
        with open(phone_seq, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if parts:
                    hyp_seq[parts[0]] = parts[1:]
        ref_seq = {u: [p for _, _, p in v] for u, v in timings.items() if u in hyp_seq}
        if not ref_seq:
            raise DataDirError(timings_path, f"no utterance of {phone_seq} has timings")
        silence = {model.phones[s] for s in model.silence}
        per, errs, length = ev.phone_error_rate(hyp_seq, ref_seq, silence)
        result.update(per=per, phone_errors=errs, ref_phones=length,
                      per_utts=len(ref_seq))
    return result


def train_phone_sequences(ali_scp, model: AcousticModel) -> list[list[str]]:
    alis = read_int_vectors(ali_scp)
    return [phone_outputs(model.tree.pdf2phone, model.tree.pdf2state, model.phones, a)[1]
            for _, a in sorted(alis.items())]

