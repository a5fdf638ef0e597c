#!/usr/bin/env bash
# Bottleneck (bnf) features of a data dir, from a network of steps/asr/train_bnf.sh, in
# --nj jobs: <dest-data> becomes a complete data dir (src's tables, vad.scp included since
# the frame counts are unchanged) with bnf feats.scp and utt2num_frames.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

nj=4
cmd=utils/run_local.sh
device=cpu
help_message="usage: $0 [options] <bnf-dir> <src-data> <dest-data> [<log-dir>]
e.g.: $0 --nj 4 --cmd \"\$train_cmd\" exp/asr/bnf data/train_lt data/train_lt_bnf
<bnf-dir> holds final.pt; <src-data> has feats.scp of the features the network was trained
on. The bnf arks go to <dest-data>/data/bnf_<dest-name>.JOB.{ark,scp}. <log-dir> defaults to
<dest-data>/log. Skips when <log-dir>/make_bnf.done exists.
options:
  --nj N        number of jobs (default $nj)
  --cmd CMD     job runner, Kaldi calling convention (default $cmd)
  --device DEV  cpu, cuda... (default $device)"
. utils/parse_options.sh
[ $# -ge 3 ] && [ $# -le 4 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
bnfdir=$1; src=${2%/}; dest=${3%/}
logdir=${4:-$dest/log}
done_marker=$logdir/make_bnf.done

if is_done "$done_marker" && [ -f "$dest/feats.scp" ]; then
  log "bnf features of $src already in $dest ($done_marker); skipping"
  exit 0
fi
[ -f "$bnfdir/final.pt" ] || die "$bnfdir/final.pt does not exist (fix: run steps/asr/train_bnf.sh)"
[ -f "$src/feats.scp" ] || die "$src/feats.scp does not exist (fix: run steps/make_feats.sh)"
[ "$(cd "$src" && pwd)" != "$(mkdir -p "$dest" && cd "$dest" && pwd)" ] || \
  die "<src-data> and <dest-data> must differ"
mkdir -p "$logdir"
lock_dir "$dest"
write_rerun_cmd "$logdir" "$0" "${orig_args[@]}"
lidtool validate-data-dir --need-feats "$src" >/dev/null
utils/split_data.sh "$src" "$nj"
log "bnf features of $src in $nj job(s); logs in $logdir/make_bnf.*.log"
$cmd JOB=1:"$nj" "$logdir/make_bnf.JOB.log" \
  lidtool make-bnf --nj "$nj" --job JOB --device "$device" "$bnfdir/final.pt" "$src" "$dest" \
  || die "bnf extraction failed; see $logdir/make_bnf.*.log"
$cmd "$logdir/make_bnf.merge.log" \
  lidtool make-bnf --merge --nj "$nj" "$bnfdir/final.pt" "$src" "$dest" \
  || die "merging the bnf parts failed; see $logdir/make_bnf.merge.log"
mark_done "$done_marker"
log "wrote $dest/feats.scp ($(wc -l < "$dest/feats.scp") utterances of bnf features)"
