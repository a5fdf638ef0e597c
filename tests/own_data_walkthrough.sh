#!/usr/bin/env bash
# Run the walkthrough of docs/USING.md ("own-data walkthrough" block) as it is written, in
# WORK_DIR, which must hold data/mytrain and data/mytest. nj and train_opts may be set in
# the environment (as the doc says). The doc and this test cannot drift: the commands are
# read from the doc itself.
#   usage: tests/own_data_walkthrough.sh WORK_DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 WORK_DIR" >&2; exit 1; }
LIDTOOL=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LIDTOOL
doc=$LIDTOOL/docs/USING.md
script=$(mktemp)
trap 'rm -f "$script"' EXIT
# the fenced ```bash block whose first line is '# own-data walkthrough'
awk '/^```bash$/ { inblock = 1; body = ""; next }
     /^```$/ && inblock { if (body ~ /^# own-data walkthrough\n/) { printf "%s", body; found = 1 }
                          inblock = 0; next }
     inblock { body = body $0 "\n" }
     END { exit found ? 0 : 1 }' "$doc" > "$script" \
  || { echo "$doc has no '# own-data walkthrough' bash block" >&2; exit 1; }
cd "$1"
echo "running the walkthrough of $doc in $PWD ($(grep -c . "$script") lines)" >&2
bash -euo pipefail -x "$script"
