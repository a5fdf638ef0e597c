#!/usr/bin/env bash
# Energy VAD (Kaldi compute-vad) for a data dir with features, in --nj jobs -> <data-dir>/vad.scp
# (Kaldi's sid/compute_vad_decision.sh).
set -euo pipefail
. utils/lib.sh

nj=4
cmd=utils/run_local.sh
vad_config=""
feat_config=""
help_message="usage: $0 [options] <data-dir> [<log-dir> [<vad-dir>]]
 e.g. $0 --nj 8 --cmd \"\$train_cmd\" --vad-config conf/vad.conf data/train exp/make_vad/train mfcc
Runs 'lidtool compute-vad' per split of <data-dir> through --cmd and merges the results into
<data-dir>/vad.scp (sorted, atomic). Skips when <log-dir>/compute_vad_<data>.done exists.
The archives are <vad-dir>/vad_<data>.<run>.JOB.{ark,scp} (<run>: a new number per run): a
re-run swaps in its vad.scp only when every job succeeded, then deletes the replaced archives.
The log energy is column 0 of the features (MFCC C0); for fbank/logmel features pass
--feat-config so the energy is computed from the audio with the same frames.
<log-dir> defaults to <data-dir>/log, <vad-dir> to <data-dir>/data.
options:
  --nj N              number of jobs (default $nj)
  --cmd CMD           job runner, Kaldi calling convention (default $cmd)
  --vad-config FILE   Kaldi vad.conf or YAML (default: built-in 5.5 / 0.5 / 2 / 0.6)
  --feat-config FILE  the features' config (needed for fbank/logmel)"
. utils/parse_options.sh

if [ $# -lt 1 ] || [ $# -gt 3 ]; then echo "$help_message" >&2; exit 1; fi
require_cmd "$cmd"
data=${1%/}
logdir=${2:-$data/log}
vaddir=${3:-$data/data}
name=$(basename "$data")
done_marker=$logdir/compute_vad_${name}.done

[ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (fix: run steps/make_feats.sh first)"
[ -z "$vad_config" ] || [ -f "$vad_config" ] || die "VAD config '$vad_config' does not exist"
[ -z "$feat_config" ] || [ -f "$feat_config" ] || die "feature config '$feat_config' does not exist"
lock_dir "$data"
if is_done "$done_marker" && [ -f "$data/vad.scp" ]; then
  log "VAD of $data already computed ($done_marker); skipping"
  exit 0
fi
mkdir -p "$logdir" "$vaddir"
vaddir=$(cd "$vaddir" && pwd -P)

lidtool validate-data-dir --need-feats --no-wav "$data" >/dev/null
utils/split_data.sh "$data" "$nj"
sdata=$data/split$nj

opts=()
[ -n "$vad_config" ] && opts+=(--vad-config "$vad_config")
[ -n "$feat_config" ] && opts+=(--feat-config "$feat_config")
# New archives under new names; the current vad.scp stays valid until the swap below.
run=$(new_run_id "$vaddir" "vad_$name")
out=vad_$name.$run
prune_archives "$vaddir" "vad_$name" "$data/vad.scp"
trap 'prune_archives "$vaddir" "vad_$name" "$data/vad.scp"' EXIT
log "computing VAD of $data in $nj job(s); logs in $logdir/compute_vad_${name}.*.log"
$cmd JOB=1:"$nj" "$logdir/compute_vad_${name}.JOB.log" \
  lidtool compute-vad "${opts[@]}" --name "$name.$run" "$sdata/JOB" "$vaddir" \
  || die "VAD failed; see $logdir/compute_vad_${name}.*.log"

for n in $(seq "$nj"); do
  [ -s "$vaddir/$out.$n.scp" ] || \
    die "job $n left no $vaddir/$out.$n.scp; see $logdir/compute_vad_${name}.$n.log"
done
tmp=$data/.vad.scp.new
for n in $(seq "$nj"); do cat "$vaddir/$out.$n.scp"; done | LC_ALL=C sort -k1,1 > "$tmp"
if [ "$(wc -l < "$tmp")" -ne "$(wc -l < "$data/feats.scp")" ]; then
  rm -f "$tmp"; die "merged VAD does not cover every utterance of $data/feats.scp"
fi
chmod 644 "$tmp"
mv "$tmp" "$data/vad.scp"
lidtool validate-data-dir --need-feats --no-wav "$data" >/dev/null
mark_done "$done_marker"
log "wrote $data/vad.scp ($(wc -l < "$data/vad.scp") utterances)"
