"""Phone-loop decoding of any data dir into frame labels (stage 3 of the LID recipes).

`make_phone_loop_graph` trains a phone bigram on the ASR corpus' alignments (or
transcripts), converts it to G with kaldilm and expands it into the decoding graph;
`decode_data_dir` decodes every utterance of a data dir and writes its labels.
"""
from __future__ import annotations

import logging
from pathlib import Path

import kaldifst
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from lidtool.asr.decode import viterbi
from lidtool.asr.graph import phone_lm_fst, phone_loop_graph, write_phone_bigram_arpa
from lidtool.asr.labels import phone_outputs, write_int_vectors
from lidtool.asr.lang import read_symbols
from lidtool.asr.model import AcousticModel
from lidtool.asr.train import read_raw_feats
from lidtool.data.datadir import DataDir
from lidtool.errors import DataDirError, FeatureError
from lidtool.fileio import atomic_open, atomic_path

log = logging.getLogger(__name__)


def make_phone_loop_graph(model: AcousticModel, lang_dir, phone_sequences, out_dir, *,
                          transition_scale: float = 1.0):
    """Writes out_dir/{phone_bigram.arpa, G.fst, HCLG.fst}; returns the graph."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_phone_bigram_arpa(out / "phone_bigram.arpa", phone_sequences, model.phones)
    syms = read_symbols(Path(lang_dir) / "lm_symbols.txt")
    G = phone_lm_fst(out / "phone_bigram.arpa", Path(lang_dir) / "lm_symbols.txt",
                     out / "G.fst")
    graph = phone_loop_graph(G, model, syms["#0"], transition_scale=transition_scale)
    with atomic_path(out / "HCLG.fst") as tmp:
        graph.write(tmp)
    log.info("phone-loop graph: %d states", graph.num_states)
    return graph


def load_graph(path):
    path = Path(path)
    if not path.is_file():
        raise DataDirError(path, "decoding graph does not exist",
                           fix="make it with `lidtool asr-make-graph`")
    return kaldifst.StdVectorFst.read(str(path))


def decode_data_dir(model: AcousticModel, graph, data_dir, out_dir, *, suffix: str = "",
                    acoustic_scale: float = 0.1, beam: float = 13.0,
                    max_active: int = 7000) -> dict[str, int]:
    """Decode every utterance of `data_dir`; write out_dir/ali{suffix}.{ark,scp} (pdf-id
    per frame), ali_phone{suffix}.{ark,scp} (phone id per frame) and phone_seq{suffix}.
    Each utterance gets exactly one label per feature frame (checked against
    utt2num_frames when the data dir has it); the returned counts include `partial`, the
    utterances whose best path did not reach a final state of the graph (their labels
    are still one per frame). BLAS is single-threaded: run jobs instead."""
    with threadpool_limits(limits=1):
        return _decode_data_dir(model, graph, data_dir, out_dir, suffix, acoustic_scale,
                                beam, max_active)


def _decode_data_dir(model, graph, data_dir, out_dir, suffix, acoustic_scale, beam,
                     max_active):
    d = DataDir(data_dir)
    if d.feats_scp is None:
        raise DataDirError(d.path, "no feats.scp", fix="extract features first")
    n2f = d.utt2num_frames
    out = Path(out_dir)
    pdf_labels, phone_labels, seqs = {}, {}, {}
    frames = partial = 0
    for utt in tqdm(list(d.feats_scp.keys()), desc="decode", leave=False, disable=None):
        where = d.feats_scp.where(utt)
        raw = read_raw_feats(d.feats_scp[utt], where)
        T = raw.shape[0]
        if n2f is not None and utt in n2f and int(d.numeric("utt2num_frames", utt)) != T:
            raise FeatureError(n2f.path, f"says {n2f[utt]} frames for '{utt}' but feats.scp "
                               f"has {T}", line=n2f.lines[utt],
                               fix="recompute utt2num_frames (utils/fix_data_dir.sh)")
        if T < model.min_frames:
            raise FeatureError(where[0], f"'{utt}' has {T} frames; phone decoding needs at "
                               f"least {model.min_frames}", line=where[1])
        feats = model.prepare(raw, where=f"{where[0]}:{where[1]}")
        ali = viterbi(graph, model.gmm.all_loglikes(feats), acoustic_scale=acoustic_scale,
                      beam=beam, max_active=max_active, allow_partial=True)
        if ali is None:
            raise FeatureError(where[0], f"decoding '{utt}' found no path", line=where[1],
                               fix="raise --beam")
        if not ali.reached_final:
            partial += 1
            log.warning("%s: no path reached a final state; using the best partial path",
                        utt)
        pdf_labels[utt] = ali.pdfs
        phone_labels[utt], seqs[utt] = phone_outputs(
            model.tree.pdf2phone, model.tree.pdf2state, model.phones, ali.pdfs)
        frames += T
    write_int_vectors(out / f"ali{suffix}.ark", out / f"ali{suffix}.scp", pdf_labels)
    write_int_vectors(out / f"ali_phone{suffix}.ark", out / f"ali_phone{suffix}.scp",
                      phone_labels)
    with atomic_open(out / f"phone_seq{suffix}") as f:
        for utt in sorted(seqs):
            f.write(f"{utt} {' '.join(seqs[utt])}\n")
    log.info("decoded %d utterances, %d frames, %d partial", len(pdf_labels), frames,
             partial)
    return {"utts": len(pdf_labels), "frames": frames, "partial": partial}


def alignment_phone_sequences(model: AcousticModel, alis: dict[str, np.ndarray]):
    """Phone-name sequences of training alignments (the phone LM's training text)."""
    return [phone_outputs(model.tree.pdf2phone, model.tree.pdf2state, model.phones, a)[1]
            for _, a in sorted(alis.items())]
