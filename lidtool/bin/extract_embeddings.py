"""Extract utterance embeddings (x-vectors) with a trained DNN into xvector.ark/.scp.

    lidtool extract-embeddings [--layer fc1] [--nj N --job J] MODEL DATA_DIR OUT_DIR [DATA_DIR OUT_DIR ...]

Writes OUT_DIR/xvector_<data>.<job>.ark/.scp (job = --job, 1 by default);
steps/infer_nnet.sh merges the per-job scp files into OUT_DIR/xvector.scp. The layer defaults
to the model's `model.embedding_layer` (fc1: the first segment layer's affine output).
Several data dirs, each followed by its OUT_DIR, are processed in one process.
"""
from __future__ import annotations

import logging

import torch

from lidtool.inference.jobs import add_job_arguments, add_more_pairs_argument

log = logging.getLogger("lidtool.extract_embeddings")


def add_arguments(p):
    p.add_argument("--layer", default=None,
                   help="pool | fcN | fcN_out (default: the model's embedding_layer)")
    add_job_arguments(p)
    p.add_argument("out_dir", help="where xvector_<data>.<job>.ark/.scp go")
    add_more_pairs_argument(p, "OUT_DIR")


def main(args):
    from lidtool.errors import ConfigError
    from lidtool.features.io import ArkScpWriter, split_job
    from lidtool.inference.jobs import open_each_job
    from lidtool.inference.scoring import embed_utterances

    for data_dir, out_dir, (model, info, device, items) in open_each_job(args, "out_dir"):
        layer = args.layer or model.embedding_layer
        try:
            model.classifier.embed(torch.zeros(1, model.backbone.out_dim, device=device), layer)
        except ValueError as err:
            raise ConfigError("--layer", str(err)) from None
        n = 0
        name = split_job(data_dir)[0]
        with ArkScpWriter(out_dir, name, args.job, prefix="xvector") as writer:
            for utt, vec in embed_utterances(model, items, device, layer,
                                             desc=f"embed {data_dir} {args.job}/{args.nj}"):
                writer.write(utt, vec)
                n += 1
        log.info("wrote %d %s embeddings%s -> %s", n, layer, items.summary(), writer.scp)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
