"""Train the bottleneck-feature (bnf) DNN phone classifier on forced alignments.

    lidtool asr-train-bnf [options] DATA_DIR ALI_SCP OUT_DIR

DATA_DIR has feats.scp (the features the alignments were made on, e.g. data/asr_cmn);
ALI_SCP holds one pdf-id per feature frame (exp/asr/tri1/ali.scp; the number of classes is
read from the num_pdfs file beside it unless --num-pdfs is given). Writes OUT_DIR/final.pt
(the model `lidtool make-bnf` uses) and OUT_DIR/history.json (per-epoch loss and held-out
frame accuracy). The training is the one trainer's (`lidtool train`) with the `frame_ce`
strategy and `model.name: bnf`; the options become OUT_DIR/bnf.yaml (see
lidtool.asr.bnf_train), and the trainer writes config.yaml, train_log.jsonl and
checkpoints/ckpt-<step>.pt after every epoch: re-running the same command after an
interruption continues from the last checkpoint.
"""
from __future__ import annotations

import json

from lidtool.asr.bnf_train import BnfOptions, train_bnf
from lidtool.threads import add_num_threads_argument


def add_arguments(p) -> None:
    d = BnfOptions()
    p.add_argument("--bottleneck-dim", type=int, default=d.bottleneck_dim,
                   help=f"bnf feature dimension (default {d.bottleneck_dim})")
    p.add_argument("--hidden-dim", type=int, default=d.hidden_dim,
                   help=f"width of the hidden layers (default {d.hidden_dim})")
    p.add_argument("--layers", default=",".join(f"{k}:{dl}" for k, dl in d.layers),
                   help="frame layers as kernel:dilation,... (default %(default)s = "
                        "context -5..5)")
    p.add_argument("--num-epochs", type=int, default=d.num_epochs,
                   help=f"passes over the data (default {d.num_epochs})")
    p.add_argument("--chunk-frames", type=int, default=d.chunk_frames,
                   help=f"frames per training chunk (default {d.chunk_frames})")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"chunks per minibatch (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"initial Adam lr (default {d.lr})")
    p.add_argument("--final-lr", type=float, default=d.final_lr,
                   help=f"lr of the last epoch (default {d.final_lr})")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help=f"Adam weight decay (default {d.weight_decay})")
    p.add_argument("--cmn-window", type=int, default=d.cmn_window,
                   help=f"sliding CMN window in frames (default {d.cmn_window})")
    p.add_argument("--valid-fraction", type=float, default=d.valid_fraction,
                   help=f"utterances held out for frame accuracy (default {d.valid_fraction})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--num-pdfs", type=int, default=None,
                   help="number of classes (default: the num_pdfs file beside ALI_SCP)")
    add_num_threads_argument(p)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if "
                   "available)")
    p.add_argument("data_dir")
    p.add_argument("ali_scp")
    p.add_argument("out_dir")


def parse_layers(text: str) -> list:
    from lidtool.errors import ConfigError
    try:
        return [[int(a), int(b)] for a, b in (item.split(":") for item in text.split(","))]
    except ValueError:
        raise ConfigError("--layers", f"expected kernel:dilation,..., got '{text}'") from None


def main(args) -> int:
    opts = BnfOptions.from_dict({
        "bottleneck_dim": args.bottleneck_dim, "hidden_dim": args.hidden_dim,
        "layers": parse_layers(args.layers), "num_epochs": args.num_epochs,
        "chunk_frames": args.chunk_frames, "batch_size": args.batch_size, "lr": args.lr,
        "final_lr": args.final_lr, "weight_decay": args.weight_decay,
        "cmn_window": args.cmn_window, "valid_fraction": args.valid_fraction,
        "seed": args.seed}, source="command line")
    model = train_bnf(args.data_dir, args.ali_scp, args.out_dir, opts, num_pdfs=args.num_pdfs,
                      device=args.device)
    last = model.history[-1] if model.history else {}
    print(json.dumps({"final": f"{args.out_dir}/final.pt", "bottleneck_dim": model.dim,
                      "num_pdfs": model.num_pdfs, **last}, indent=1))
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
