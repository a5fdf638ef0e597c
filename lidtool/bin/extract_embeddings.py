"""Extract utterance embeddings (x-vectors) with a trained DNN into xvector.ark/.scp.

    lidtool extract-embeddings [--layer fc1] [--nj N --job J] MODEL DATA_DIR OUT_DIR

Writes OUT_DIR/xvector_<data>.<job>.ark/.scp (job = --job, 1 by default);
steps/infer_nnet.sh merges the per-job scp files into OUT_DIR/xvector.scp. The layer defaults
to the model's `model.embedding_layer` (fc1: the first segment layer's affine output).
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger("lidtool.extract_embeddings")


def add_arguments(p):
    p.add_argument("--layer", default=None,
                   help="pool | fcN | fcN_out (default: the model's embedding_layer)")
    p.add_argument("--nj", type=int, default=1, help="number of parallel jobs")
    p.add_argument("--job", type=int, default=1, help="which job (1..nj) this is")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("model", help="exp/<sys>/final.pt")
    p.add_argument("data_dir", help="data dir with feats.scp (and vad.scp)")
    p.add_argument("out_dir", help="where xvector_<data>.<job>.ark/.scp go")


def main(args):
    from lidtool.data.tables import read_table
    from lidtool.errors import ConfigError
    from lidtool.features.io import ArkScpWriter, split_job
    from lidtool.train.checkpoint import load_model
    from lidtool.train.distributed import pick_device
    from lidtool.train.inference import embed_utterances, job_slice, prepared_utterances

    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    device = pick_device(args.device)
    model, info = load_model(args.model, device)
    layer = args.layer or model.embedding_layer
    try:
        model.classifier.embed(torch.zeros(1, model.backbone.out_dim, device=device), layer)
    except ValueError as err:
        raise ConfigError("--layer", str(err)) from None
    utts = job_slice(list(read_table(f"{args.data_dir}/feats.scp")), args.nj, args.job)
    cmn = int((info.get("features") or {}).get("cmn_window", 300))
    items = prepared_utterances(args.data_dir, cmn, utts)
    n = 0
    name = split_job(args.data_dir)[0]
    with ArkScpWriter(args.out_dir, name, args.job, prefix="xvector") as writer:
        for utt, vec in embed_utterances(model, items, device, layer,
                                         desc=f"embed {args.job}/{args.nj}"):
            writer.write(utt, vec)
            n += 1
    log.info("wrote %d %s embeddings -> %s", n, layer, writer.scp)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
