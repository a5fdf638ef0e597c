"""Write bottleneck (bnf) features of a data dir as a new data dir.

    lidtool make-bnf [--nj N --job J | --merge --nj N] BNF_MODEL SRC_DATA DEST_DATA

BNF_MODEL is the final.pt of `lidtool asr-train-bnf`; SRC_DATA has feats.scp of the
features it was trained on (same type and dimension). The bnf matrices (one per source
frame) go to DEST_DATA/data/bnf_<dest name>.<job>.{ark,scp} (ark/scp via an atomic temp
file), and DEST_DATA becomes a complete Kaldi data dir: src's utt2spk, spk2utt, utt2lang,
wav.scp, text, utt2dur, vad.scp (still valid: frame counts are unchanged)... with the new
feats.scp and utt2num_frames.

Parallel jobs (steps/make_bnf.sh): `--nj N --job J` writes only the arks of part J of
SRC_DATA's split (utils/split_data.sh SRC_DATA N first); `--merge --nj N` then assembles
DEST_DATA from the N parts. Without --nj everything happens in one job.
"""
from __future__ import annotations

import logging
from pathlib import Path

from lidtool.asr.bnf import BnfModel, write_bnf_arks, write_bnf_data_dir
from lidtool.data.datadir import split_data_dir, validate_data_dir
from lidtool.errors import ConfigError
from lidtool.features.io import ark_scp_paths
from lidtool.threads import add_num_threads_argument

log = logging.getLogger("lidtool.make_bnf")


def add_arguments(p) -> None:
    p.add_argument("--nj", type=int, default=None, help="number of parallel jobs")
    p.add_argument("--job", type=int, default=None, help="this job's part (1..nj)")
    p.add_argument("--merge", action="store_true",
                   help="only assemble DEST_DATA from the --nj parts")
    p.add_argument("--device", default="cpu", help="cpu, cuda... (default cpu)")
    add_num_threads_argument(p)
    p.add_argument("model", help="bnf model (final.pt of lidtool asr-train-bnf)")
    p.add_argument("src", help="source data dir with feats.scp")
    p.add_argument("dest", help="output data dir")


def main(args) -> int:
    dest = Path(args.dest)
    name = dest.resolve().name
    ark_dir = dest / "data"
    if args.merge or args.job is not None:
        if not args.nj or args.nj < 1:
            raise ConfigError("--nj", "--job and --merge need --nj N (N >= 1)")
        if args.job is not None and not 1 <= args.job <= args.nj:
            raise ConfigError("--job", f"job {args.job} is not in 1..{args.nj}")
    if args.merge:
        scps = [ark_scp_paths(ark_dir, name, j, prefix="bnf")[1]
                for j in range(1, args.nj + 1)]
    else:
        model = BnfModel.load(args.model).to(args.device)
        validate_data_dir(args.src, need_feats=True)
        if args.job is not None:
            part = split_data_dir(args.src, args.nj)[args.job - 1]
            scp, frames = write_bnf_arks(model, part, ark_dir, name, args.job)
            log.info("job %d: %d utterances, %d frames -> %s", args.job, len(frames),
                     sum(frames.values()), scp)
            return 0
        scp, frames = write_bnf_arks(model, args.src, ark_dir, name, 1)
        scps = [scp]
        log.info("%d utterances, %d frames of dim %d -> %s", len(frames),
                 sum(frames.values()), model.dim, scp)
    write_bnf_data_dir(args.src, dest, scps)
    validate_data_dir(dest, need_feats=True)
    print(f"wrote {dest} (feats.scp from {len(scps)} part(s))")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
