"""Print one value of an i-vector system config (for shell loops), or write the resolved config.

    lidtool ivector-config --config conf/ivector.yaml --get ubm.num_iters_full
    lidtool ivector-config --config conf/ivector.yaml --write exp/ubm/config.yaml
"""
import yaml

from lidtool.fileio import write_text_atomic
from lidtool.ivector.config import add_config_args, config_from_args


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--get", default=None, metavar="SECTION.KEY", help="print this value")
    p.add_argument("--write", default=None, metavar="FILE",
                   help="write the resolved config (defaults + file + overrides) as YAML")


def main(args):
    cfg = config_from_args(args)
    if args.write:
        write_text_atomic(args.write, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if args.get:
        value = cfg.get(args.get)
        print("null" if value is None else (str(value).lower() if isinstance(value, bool)
                                            else value))


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
