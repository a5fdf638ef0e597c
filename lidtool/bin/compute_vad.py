"""Energy VAD (Kaldi compute-vad) for the features of a data dir (one job) into ark/scp.

    lidtool compute-vad [--vad-config conf/vad.conf] [--feat-config conf/fbank.conf] DATA_DIR ARK_DIR

Reads DATA_DIR/feats.scp and writes ARK_DIR/vad_<name>.<job>.ark/.scp (name = the data
name unless --name; job from a split part's path, else 1). The log energy is column 0 of the
features (MFCC's C0 is the log energy with use_energy=true). For fbank/logmel features,
which have no energy column, pass --feat-config: the log energy is then computed from the
audio with the same frames, and its frame count checked against the features.
"""
from __future__ import annotations

import logging

from tqdm import tqdm

from lidtool.data.datadir import iter_utterance_audio, validate_data_dir
from lidtool.errors import FeatureError
from lidtool.features.extract import FeatureConfig, compute_log_energy
from lidtool.features.io import ArkScpWriter, read_matrix, split_job
from lidtool.features.vad import VadConfig, compute_vad

log = logging.getLogger("lidtool.compute_vad")


def add_arguments(p):
    p.add_argument("--vad-config", default=None,
                   help="Kaldi vad.conf or YAML (default: threshold 5.5, mean scale 0.5, "
                        "context 2, proportion 0.6)")
    p.add_argument("--feat-config", default=None,
                   help="the features' config; for fbank/logmel the energy comes from audio")
    p.add_argument("--name", default=None, help="output name (default: the data name)")
    p.add_argument("--job", type=int, default=None, help="job number (default from the path)")
    p.add_argument("data_dir", help="data dir (or split part) with feats.scp")
    p.add_argument("ark_dir", help="where vad_<name>.<job>.ark/.scp go")


def main(args):
    vad_cfg = VadConfig.from_file(args.vad_config) if args.vad_config else VadConfig()
    feat_cfg = FeatureConfig.from_file(args.feat_config) if args.feat_config else None
    from_audio = feat_cfg is not None and feat_cfg.type in ("fbank", "logmel")
    d = validate_data_dir(args.data_dir, need_feats=True, need_wav=from_audio)
    data_name, job = split_job(args.data_dir)
    job = args.job if args.job is not None else job
    name = args.name or data_name
    scp = d.feats_scp
    utts = d.utts
    audio = iter_utterance_audio(d, utts) if from_audio else None
    voiced = total = silent_utts = 0
    with ArkScpWriter(args.ark_dir, name, job, prefix="vad") as writer:
        for utt in tqdm(utts, desc=f"vad_{name}.{job}", unit="utt", mininterval=5):
            feats = read_matrix(scp[utt], where=scp.where(utt))
            if from_audio:
                audio_utt, samples, sr = next(audio)
                assert audio_utt == utt
                src = d.segments if d.segments is not None else d.wav_scp
                energy = compute_log_energy(samples, sr, feat_cfg, where=src.where(utt))
                if energy.shape[0] != feats.shape[0]:
                    path, line = scp.where(utt)
                    raise FeatureError(path, f"utterance '{utt}': features have "
                                       f"{feats.shape[0]} frames but {args.feat_config} gives "
                                       f"{energy.shape[0]} for its audio", line=line,
                                       fix="pass the config the features were made with")
            else:
                energy = feats[:, 0]
            vad = compute_vad(energy, vad_cfg, where=scp.where(utt))
            writer.write(utt, vad)
            n = int(vad.sum())
            voiced += n
            total += vad.size
            silent_utts += n == 0
    if silent_utts:
        log.warning("%d utterance(s) have no voiced frame; training will reject them",
                    silent_utts)
    log.info("%s: %d utterances, %.1f%% of %d frames voiced -> %s", d.path, len(utts),
             100.0 * voiced / max(total, 1), total, writer.scp)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
