"""Make a model file from a training checkpoint (to score an intermediate state of a run).

    lidtool model-from-checkpoint --model exp/sys/final.pt exp/sys/checkpoints/ckpt-00000100.pt OUT.pt

OUT.pt is exp/sys/final.pt with the checkpoint's weights (and "checkpoint_step"): every
command that takes a final.pt (extract-embeddings, infer, identify) takes it. The checkpoint
must come from the same run (same network config and classes).
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="the run's final.pt")
    parser.add_argument("checkpoint", help="exp/<sys>/checkpoints/ckpt-<step>.pt")
    parser.add_argument("out", help="model file to write")


def main(args) -> int:
    from lidtool.train.checkpoint import model_from_checkpoint
    step = model_from_checkpoint(args.checkpoint, args.model, args.out)
    log.info("wrote %s (weights of step %d)", args.out, step)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
