"""Sort a data dir's tables, drop duplicates and utterances missing from any table (originals in .backup/)."""
from lidtool.data.ops import fix_data_dir


def add_arguments(p):
    p.add_argument("data_dir")


def main(args):
    counts = fix_data_dir(args.data_dir)
    print(f"{args.data_dir}: kept {counts['kept']} utterances, dropped {counts['dropped']}")


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
