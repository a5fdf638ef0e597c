"""Train a DNN LID system (TDNN / E-TDNN / ResNet; plain, DCL, WMA, WADCL) from a YAML config.

    lidtool train --config conf/resnet_wadcl.yaml [--override train.steps=500 ...] [--mini]
        [--resume auto|none|CKPT] [--allow-config-change] [--feat-config conf/mfcc.conf]
        [--vad-config conf/vad.conf] [--class2id FILE] [--device auto|cpu|cuda] DATA_DIR EXP_DIR

DATA_DIR needs feats.scp and the label table of `data.label_table` (utt2lang by default;
utt2spk, ... or none) (vad.scp is used when present). EXP_DIR gets config.yaml, the class
map (<x>2id of utt2<x>: lang2id, spk2id, ...), train_log.jsonl, checkpoints/ckpt-<step>.pt
and final.pt (the model inference uses, with the feature/VAD config so `lidtool identify`
works on raw audio); init_report.json with `model.init`.
Multi-process: `torchrun --nproc_per_node N -m lidtool.bin.train ...` (gloo on CPU, nccl on
GPU); train.batch_size is the global batch, split over the processes.
"""
from __future__ import annotations

import dataclasses
import logging
import os


from lidtool.jobs.dirlock import lock_dir
from lidtool.threads import add_num_threads_argument

log = logging.getLogger("lidtool.train")


def add_arguments(p):
    p.add_argument("--config", required=True, help="training config (YAML)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. train.steps=100 (repeatable)")
    p.add_argument("--mini", action="store_true",
                   help="apply the config's `mini` section (a ~1 minute CPU run)")
    p.add_argument("--resume", default="auto",
                   help="auto: continue from the latest checkpoint in EXP_DIR if any; "
                        "none: start over; or a checkpoint path")
    p.add_argument("--allow-config-change", action="store_true",
                   help="on resume, use this config even where it differs from the "
                        "checkpoint's (learning rate, ...); without it such a resume is "
                        "refused with the differing keys (the step budget may always change)")
    p.add_argument("--feat-config", default=None,
                   help="feature config the features were made with (saved in final.pt)")
    p.add_argument("--vad-config", default=None,
                   help="VAD config the vad.scp was made with (saved in final.pt)")
    p.add_argument("--class2id", "--lang2id", dest="class2id", default=None,
                   help="class map '<class> <id>' (default: sorted values of the label "
                        "table; --lang2id is the old name)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    add_num_threads_argument(p)
    p.add_argument("data_dir", help="training data dir (feats.scp, the label table "
                   "[, vad.scp])")
    p.add_argument("exp_dir", help="output directory exp/<system>")


def feature_meta(feat_config, vad_config, cmn_window: int) -> dict:
    from lidtool.features.extract import FeatureConfig
    from lidtool.features.vad import VadConfig
    meta = {"feature_config": None, "vad_config": None, "cmn_window": int(cmn_window)}
    if feat_config:
        meta["feature_config"] = FeatureConfig.from_file(feat_config).to_dict()
    if vad_config:
        vad = dataclasses.asdict(VadConfig.from_file(vad_config))
        vad.pop("source", None)
        meta["vad_config"] = vad
    return meta


def main(args):
    from lidtool.train import checkpoint as ckpt_io
    from lidtool.train import distributed as ddp
    from lidtool.train.config import load_config
    from lidtool.train.data import load_train_data
    from lidtool.train.labels import read_class_map
    from lidtool.train.trainer import Trainer

    cfg = load_config(args.config, args.override, mini=args.mini)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = ddp.pick_device(args.device, local_rank)
    info = ddp.init(device)
    # one trainer per exp dir: a second one (say, a re-run while this runs) fails at once
    lock = lock_dir(args.exp_dir, ".train.lock") if info.is_main else None
    if not info.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        classes = read_class_map(args.class2id) if args.class2id else None
        d = cfg["data"]
        data = load_train_data(args.data_dir, classes, cmn_window=int(d["cmn_window"]),
                               min_frames=int(d["min_frames"]), preload=bool(d["preload"]),
                               label_table=d["label_table"], group_table=d["group_table"],
                               cache_mb=float(d["cache_mb"]))
        features = feature_meta(args.feat_config, args.vad_config, d["cmn_window"])
        trainer = Trainer(cfg, data, args.exp_dir, device=device, dist=info,
                          source=str(args.config), features=features)
        resume = None
        if args.resume == "auto":
            resume = ckpt_io.latest_checkpoint(args.exp_dir)
        elif args.resume != "none":
            resume = args.resume
        if resume is not None:
            trainer.load_checkpoint(resume, apply_config=args.allow_config_change)
        if trainer.step >= trainer.total_steps and (trainer.exp_dir / "final.pt").is_file():
            log.info("%s: already trained (%d steps)", args.exp_dir, trainer.step)
            return 0
        trainer.train()
    finally:
        ddp.finish(info)
        if lock is not None:
            lock.release()
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
