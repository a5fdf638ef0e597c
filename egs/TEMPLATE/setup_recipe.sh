#!/usr/bin/env bash
# Make <recipe-dir> a lidtool recipe: the links every recipe has (Kaldi's steps/ and utils/,
# and the template's lid.sh, path.sh, cmd.sh). A recipe then needs only its own run.sh,
# local/data.sh and conf/. Existing files are left alone (a recipe may keep its own
# cmd.sh, e.g. for Slurm); existing links are re-pointed at this repository.
set -euo pipefail
help_message="usage: egs/TEMPLATE/setup_recipe.sh <recipe-dir>
e.g.: mkdir -p egs/mycorpus && egs/TEMPLATE/setup_recipe.sh egs/mycorpus"
[ "${1:-}" != --help ] && [ "${1:-}" != -h ] || { echo "$help_message"; exit 0; }
[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
dir=$1
[ -d "$dir" ] || { echo "$0: $dir is not a directory" >&2; exit 1; }
template=$(cd -P "$(dirname "$0")" && pwd)
root=$(cd "$template/../.." && pwd)
link() {  # <target> <name>: relative link, so the repository can move
  local rel
  rel=$(realpath --relative-to="$(cd -P "$dir" && pwd)" "$1")
  if [ -e "$dir/$2" ] && [ ! -L "$dir/$2" ]; then
    echo "$0: keeping $dir/$2 (not a link)" >&2; return 0
  fi
  ln -sfn "$rel" "$dir/$2"
}
link "$root/steps" steps
link "$root/utils" utils
for f in lid.sh path.sh cmd.sh; do link "$template/$f" "$f"; done
echo "$dir: steps utils lid.sh path.sh cmd.sh linked; add run.sh, local/data.sh and conf/" >&2
