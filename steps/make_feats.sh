#!/usr/bin/env bash
# Compute frame features (MFCC, MFCC+pitch, fbank, log-mel) for a data dir in --nj jobs and
# put feats.scp and utt2num_frames into it (Kaldi's steps/make_mfcc.sh, one script for all types).
set -euo pipefail
. utils/lib.sh

nj=4
cmd=utils/run_local.sh
feat_config=conf/mfcc.conf
write_utt2num_frames=true
help_message="usage: $0 [options] <data-dir> [<log-dir> [<feat-dir>]]
 e.g. $0 --nj 8 --cmd \"\$train_cmd\" --feat-config conf/mfcc.conf data/train exp/make_feats/train mfcc
Splits <data-dir> into --nj parts, runs 'lidtool compute-feats' on each through --cmd, writes
<feat-dir>/raw_<conf>_<data>.<run>.JOB.{ark,scp} (<run>: a new number per run) and merges
them into <data-dir>/feats.scp and utt2num_frames (sorted, atomic). Skips when
<log-dir>/make_feats_<conf>_<data>.done exists. A re-extraction writes new archives and
swaps them in only when every job succeeded: until then the old feats.scp and its archives
stay valid; the replaced archives are deleted after the swap (and vad.scp, which belongs to
the old features, is moved to <data-dir>/.backup/). One run at a time per data dir (lock).
<log-dir> defaults to <data-dir>/log, <feat-dir> to <data-dir>/data.
options:
  --nj N                     number of jobs (default $nj)
  --cmd CMD                  job runner, Kaldi calling convention (default $cmd)
  --feat-config FILE         Kaldi .conf or YAML feature config (default $feat_config);
                             the type comes from --type=... or the file name (mfcc*, fbank*...)
  --write-utt2num-frames B   true|false (default $write_utt2num_frames)"
. utils/parse_options.sh

if [ $# -lt 1 ] || [ $# -gt 3 ]; then echo "$help_message" >&2; exit 1; fi
require_cmd "$cmd"
data=${1%/}
logdir=${2:-$data/log}
featdir=${3:-$data/data}
name=$(basename "$data")
conf_name=$(basename "$feat_config"); conf_name=${conf_name%.*}
tag=${conf_name}_${name}
done_marker=$logdir/make_feats_${tag}.done

[ -f "$feat_config" ] || die "feature config '$feat_config' does not exist"
[ -f "$data/wav.scp" ] || die "$data/wav.scp does not exist (fix: prepare the data dir first)"
lock_dir "$data"
if is_done "$done_marker" && [ -f "$data/feats.scp" ]; then
  log "features of $data already made ($done_marker); skipping"
  exit 0
fi
mkdir -p "$logdir" "$featdir"
# feats.scp names arks by absolute, symlink-free path (as the Python writer resolves it)
featdir=$(cd "$featdir" && pwd -P)
cp "$feat_config" "$logdir/${tag}.conf"

lidtool validate-data-dir "$data" >/dev/null
utils/split_data.sh "$data" "$nj"
sdata=$data/split$nj

# This run's archives get names of their own, so that the current feats.scp stays readable
# until the new one replaces it; a failed run's leftovers are removed now or by the next run.
run=$(new_run_id "$featdir" "raw_$tag")
out=raw_$tag.$run
prune_archives "$featdir" "raw_$tag" "$data/feats.scp"
trap 'prune_archives "$featdir" "raw_$tag" "$data/feats.scp"' EXIT
u2nf=""
if [ "$write_utt2num_frames" = true ]; then u2nf=--write-utt2num-frames; fi
log "computing $conf_name features of $data in $nj job(s); logs in $logdir/make_feats_${tag}.*.log"
$cmd JOB=1:"$nj" "$logdir/make_feats_${tag}.JOB.log" \
  lidtool compute-feats --config "$feat_config" --name "$tag.$run" $u2nf "$sdata/JOB" "$featdir" \
  || die "feature extraction failed; see $logdir/make_feats_${tag}.*.log"

# merge_parts SUFFIX NAME: the per-job tables, sorted and checked against utt2spk, into the
# temp file <data-dir>/.NAME.new (renamed at the swap)
merge_parts() {
  local suffix=$1 tmp=$data/.$2.new n
  for n in $(seq "$nj"); do
    [ -s "$featdir/$out.$n.$suffix" ] || \
      die "job $n left no $featdir/$out.$n.$suffix; see $logdir/make_feats_${tag}.$n.log"
  done
  for n in $(seq "$nj"); do cat "$featdir/$out.$n.$suffix"; done | LC_ALL=C sort -k1,1 > "$tmp"
  n=$(wc -l < "$tmp")
  if [ "$n" -ne "$(wc -l < "$data/utt2spk")" ]; then
    rm -f "$tmp"
    die "$data/$2 would have $n lines but $data/utt2spk has $(wc -l < "$data/utt2spk")"
  fi
  chmod 644 "$tmp"
}

merge_parts scp feats.scp
if [ "$write_utt2num_frames" = true ]; then merge_parts utt2num_frames utt2num_frames; fi
# The swap. Old frame-based tables do not match the new features: keep a copy aside, as
# Kaldi does (vad.scp must be recomputed).
for f in feats.scp utt2num_frames vad.scp; do
  if [ -f "$data/$f" ]; then
    mkdir -p "$data/.backup"
    log "keeping a copy of the old $data/$f in $data/.backup/"
    cp -p "$data/$f" "$data/.backup/$f"
  fi
done
rm -f "$data/vad.scp"
mv "$data/.feats.scp.new" "$data/feats.scp"
if [ "$write_utt2num_frames" = true ]; then
  mv "$data/.utt2num_frames.new" "$data/utt2num_frames"
else
  rm -f "$data/utt2num_frames"
fi
lidtool validate-data-dir --need-feats "$data" >/dev/null
mark_done "$done_marker"
log "wrote $data/feats.scp ($(wc -l < "$data/feats.scp") utterances)"
