#!/usr/bin/env bash
# Idempotent set-up: apt packages, the .venv with the pinned Python dependencies, lidtool itself.
# A second run on a ready machine only checks stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
. utils/lib.sh

apt=true
mbrola=false
mbrola_mirror=http://deb.debian.org/debian
help_message="usage: tools/install.sh [--apt true|false] [--mbrola true|false]
Installs espeak-ng, libespeak-ng1, sox, slurm-wlm, munge and the corpus synthesizers festival,
its free Debian voices (festvox-*) and flite (apt, if missing and root), creates .venv,
installs torch==2.13.0 (CPU) and the pinned dependencies of tools/requirements.txt under
tools/constraints.txt, and lidtool in editable mode.
  --mbrola true   also install MBROLA and its diphone voices (Debian contrib/non-free; the
                  voices' licences allow NON-COMMERCIAL use only). Uses a private apt sources
                  list and package lists in a temporary directory (mirror --mbrola-mirror,
                  default $mbrola_mirror); the system's apt sources are never changed.
                  The corpus works without MBROLA unless a config lists 'mbrola'."
. utils/parse_options.sh

festival_voices="festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-italp16k
  festvox-itapc16k festvox-czech-dita festvox-czech-machac festvox-ru festvox-suopuhe-lj
  festvox-suopuhe-mv festvox-ca-ona-hts festvox-hi-nsk festvox-mr-nsk festvox-te-nsk"
apt_pkgs="espeak-ng libespeak-ng1 sox slurm-wlm munge festival flite $festival_voices"
mbrola_pkgs="mbrola mbrola-en1 mbrola-us1 mbrola-us2 mbrola-us3 mbrola-es1 mbrola-es2
  mbrola-es3 mbrola-es4 mbrola-it3 mbrola-it4 mbrola-cz2"
if $apt; then
  missing=""
  for p in $apt_pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      die "missing apt packages:$missing (run as root, or install them and use --apt false)"
    fi
    log "apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

if $mbrola; then
  missing=""
  for p in $mbrola_pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    [ "$(id -u)" -eq 0 ] || die "missing MBROLA packages:$missing (run as root)"
    . /etc/os-release
    private=$(mktemp -d "${TMPDIR:-/tmp}/lidtool-apt-mbrola.XXXXXX")
    trap 'rm -rf "$private"' EXIT
    chmod 755 "$private"      # apt downloads as user _apt
    mkdir -p "$private/lists/partial"
    echo "deb $mbrola_mirror ${VERSION_CODENAME:?} main contrib non-free" > "$private/sources.list"
    # private sources AND package lists: the system's apt configuration stays as it was
    private_apt=(-o "Dir::Etc::sourcelist=$private/sources.list" -o "Dir::Etc::sourceparts=-"
                 -o "Dir::State::Lists=$private/lists")
    log "apt-get install (private sources list $private/sources.list):$missing"
    log "MBROLA voices are licensed for non-commercial use only"
    apt-get "${private_apt[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive apt-get "${private_apt[@]}" install -y -qq $missing >/dev/null
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($python --version)"
  $python -m venv .venv
fi
stamp=.venv/.lidtool-deps
want=$(cat tools/requirements.txt tools/constraints.txt setup.py | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -c tools/constraints.txt -r tools/requirements.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  .venv/bin/python -W ignore -c "import pyworld, torch, lhotse, kaldiio, kaldi_native_fbank, kaldi_hmm_gmm, kaldifst, kaldi_decoder, kaldilm, k2py; assert torch.__version__.startswith('2.13.0'), torch.__version__"
  echo "$want" > "$stamp"
fi
log "lidtool is ready: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
