"""Compute MFCC / MFCC+pitch / fbank / log-mel features of a data dir (one job) into ark/scp.

    lidtool compute-feats --config conf/mfcc.conf [--write-utt2num-frames] DATA_DIR ARK_DIR

DATA_DIR is a data dir or one part of a split (data/train/split4/3). Writes
ARK_DIR/raw_<name>.<job>.ark and .scp (name = <type>_<data name> unless --name; job = the
split part number, else 1) and, with --write-utt2num-frames, raw_<name>.<job>.utt2num_frames.
steps/make_feats.sh runs one of these per job and merges the scp files into the data dir.
An utterance that cannot be read, or is shorter than one frame, fails the job naming its
wav.scp/segments line; no output is left under the final names.
"""
from __future__ import annotations

import logging
import time

from tqdm import tqdm

from lidtool.data.audio import ISSUES, issue_summary
from lidtool.data.datadir import iter_utterance_audio, validate_data_dir
from lidtool.data.tables import write_table
from lidtool.features.extract import FeatureConfig, compute_features
from lidtool.features.io import ArkScpWriter, split_job

log = logging.getLogger("lidtool.compute_feats")


def add_arguments(p):
    p.add_argument("--config", required=True,
                   help="feature config: Kaldi .conf (--opt=value lines) or YAML")
    p.add_argument("--write-utt2num-frames", action="store_true",
                   help="also write ARK_DIR/raw_<name>.<job>.utt2num_frames")
    p.add_argument("--name", default=None, help="output name (default <type>_<data name>)")
    p.add_argument("--job", type=int, default=None, help="job number (default from the path)")
    p.add_argument("data_dir", help="data dir (or a split part) with wav.scp")
    p.add_argument("ark_dir", help="where the ark/scp files go")


def where_of(d, utt: str) -> tuple[str, int | None]:
    """The (file, line) that defines `utt`'s audio: its segments line, else its wav.scp line."""
    table = d.segments if d.segments is not None else d.wav_scp
    return table.where(utt)


def main(args):
    cfg = FeatureConfig.from_file(args.config)
    d = validate_data_dir(args.data_dir, need_wav=True)
    data_name, job = split_job(args.data_dir)
    job = args.job if args.job is not None else job
    name = args.name or f"{cfg.type}_{data_name}"
    utts = d.utts
    frames: dict[str, int] = {}
    ISSUES.clear()
    audio_seconds = 0.0
    t0 = time.time()
    with ArkScpWriter(args.ark_dir, name, job) as writer:
        for utt, samples, sr in tqdm(iter_utterance_audio(d, utts), total=len(utts),
                                     desc=f"{name}.{job}", unit="utt", mininterval=5):
            feats = compute_features(samples, sr, cfg, where=where_of(d, utt))
            writer.write(utt, feats)
            frames[utt] = feats.shape[0]
            audio_seconds += samples.size / sr
        if args.write_utt2num_frames:
            write_table(writer.ark.with_suffix(".utt2num_frames"), frames)
    elapsed = max(time.time() - t0, 1e-9)
    log.info("%s: %d utterances, %d frames of dim %d, %.1f s of audio in %.1f s (%.0fx real "
             "time)%s -> %s", d.path, len(utts), sum(frames.values()), cfg.dim, audio_seconds,
             elapsed, audio_seconds / elapsed, issue_summary(), writer.scp)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
