"""Generate the synthetic corpus: resources, shards (parallel, resumable), manifests, data dirs.

Layout under the corpus dir:
    vocab/<lang>.json            vocabulary espeak-ng reads without switching language
    babble.npy                   the babble bank (other speech, 16 kHz) for babble noise
    audio/<set>/<utt>.<fmt>      one file per utterance
    shards/<set>/<k>.jsonl       recordings + supervisions of shard k, then <k>.done
A shard is written atomically and marked done; the marker holds a fingerprint of the shard's
utterance specs and the global config, so a re-run skips finished shards of the same config,
regenerates the others from scratch (same utterance ids and files, nothing duplicated) and
never mixes in a shard made with other settings. Resources (vocabularies, babble) record
their own fingerprint; a corpus dir made with different resource settings is refused. Manifests
(lhotse, jsonl.gz) and Kaldi data dirs are assembled from the shard files at the end.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing as mp
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from lhotse import AudioSource, Recording, SupervisionSegment
from lhotse.supervision import AlignmentItem

import lidtool.corpora.synth.espeak  # noqa: F401 - imported (not initialised) before forks
from lidtool.corpora.synth.isolate import run_isolated
from lidtool.corpora.synth.sets import UttSpec, all_languages, plan_set, shards_of
from lidtool.corpora.synth.speaker_sets import (is_speaker_set, make_sv_speaker,
                                                speaker_set_fingerprint, trial_options,
                                                write_set_trials)
from lidtool.corpora.synth.speakers import make_speaker, split_variants, stable_int
from lidtool.corpora.synth.text import (SentenceSampler, build_vocabulary, language_spec,
                                        load_vocabulary, save_vocabulary)
from lidtool.corpora.synth.unaligned import render_unaligned
from lidtool.corpora.synth.utterance import SIL, render
from lidtool.corpora.synth.voices import (SynthSpeaker, candidates, check_heldout_synth,
                                          make_synth_speaker, set_fingerprint, uses_backends)
from lidtool.errors import ConfigError, DataDirError
from lidtool.fileio import atomic_open, atomic_path, write_text_atomic

log = logging.getLogger(__name__)


def _check_voices(cfg: dict, sets: list[str] | None = None) -> None:
    from lidtool.corpora.synth.espeak import list_variants, list_voices
    voices, variants = list_voices(), list_variants()
    for lang in all_languages(cfg):
        spec = language_spec(lang, cfg["languages"])
        if spec.voice.lower() not in voices:
            raise ConfigError("languages", f"espeak-ng has no voice '{spec.voice}' for "
                              f"language '{lang}'", fix="see `espeak-ng --voices`")
    missing = sorted(set(cfg["speakers"]["variants"]) - variants)
    if missing:
        raise ConfigError("speakers.variants", f"espeak-ng has no variants {missing}",
                          fix="see `espeak-ng --voices=variant`")
    # every other synthesizer voice of the sets to make is installed (a set that is not made
    # may need a voice that is not: e.g. an optional MBROLA test set)
    for name, s in cfg["sets"].items():
        if uses_backends(s) and (sets is None or name in sets):
            for lang in s["langs"]:
                candidates(cfg, name, lang)


def _babble_clip(lang: str, k: int, cfg: dict, vocab) -> np.ndarray:
    from lidtool.corpora.synth.espeak import Espeak
    from scipy.signal import resample_poly
    seed = int(cfg["seed"])
    variants = sorted(cfg["speakers"]["variants"])
    spk = make_speaker(lang, language_spec(lang, cfg["languages"]).voice, "train", 9000 + k,
                       seed, cfg["speakers"], variants)
    rng = np.random.default_rng([seed, stable_int("babble"), k])
    words = SentenceSampler(vocab, cfg["sentence_power"]).sample(rng, 14)
    syn = Espeak.get().synthesize(" ".join(words), spk.voice, spk.params(), what="babble")
    return resample_poly(syn.samples.astype(np.float64) / 32768.0, 320, 441)


RESOURCE_KEYS = ("seed", "vocab_size", "sentence_power", "babble_clips", "languages",
                 "speakers")


def _digest(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def resource_fingerprint(cfg: dict) -> str:
    return _digest([{k: cfg[k] for k in RESOURCE_KEYS}, all_languages(cfg)])


def shard_fingerprint(cfg: dict, specs: list[UttSpec]) -> str:
    extra = set_fingerprint(cfg, specs[0].set) if specs else []
    if specs and is_speaker_set(cfg["sets"][specs[0].set]):
        extra = speaker_set_fingerprint(cfg, cfg["sets"][specs[0].set])
    return _digest([{k: v for k, v in cfg.items() if k != "sets"}, [vars(s) for s in specs]]
                   + ([extra] if extra else []))


def _is_done(marker: Path, fingerprint: str) -> bool:
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == fingerprint


def prepare_resources(cfg: dict, corpus_dir: Path, sets: list[str] | None = None) -> None:
    """Vocabularies and the babble bank (deterministic; skipped when already there); the
    voices of `sets` (default all) are checked first."""
    _check_voices(cfg, sets)
    stamp = Path(corpus_dir) / "resources.sha1"
    fp = resource_fingerprint(cfg)
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() != fp:
        raise ConfigError(stamp, "this corpus dir was made with other seed/vocabulary/"
                          "speaker/language settings", fix="use a new corpus dir or delete it")
    write_text_atomic(stamp, fp + "\n")
    for lang in all_languages(cfg):
        path = corpus_dir / "vocab" / f"{lang}.json"
        if not path.is_file():
            spec = language_spec(lang, cfg["languages"])
            vocab = run_isolated(build_vocabulary, spec, int(cfg["vocab_size"]))
            save_vocabulary(path, vocab)
            log.info("vocabulary %s: %d words (voice %s, text %s)", lang, len(vocab),
                     spec.voice, spec.text)
    bank_path = corpus_dir / "babble.npy"
    if not bank_path.is_file():
        langs = all_languages(cfg)
        clips = []
        for k in range(int(cfg["babble_clips"])):
            lang = langs[k % len(langs)]
            vocab = load_vocabulary(corpus_dir / "vocab" / f"{lang}.json")
            clips.append(run_isolated(_babble_clip, lang, k, cfg, vocab))
        width = max(len(c) for c in clips)
        bank = np.zeros((len(clips), width + 1), dtype=np.float32)
        for i, c in enumerate(clips):
            bank[i, 0] = len(c)
            bank[i, 1:len(c) + 1] = c
        with atomic_path(bank_path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, bank)


class _Context:
    """What a worker needs, loaded once per process."""

    def __init__(self, cfg: dict, corpus_dir: Path):
        self.cfg = cfg
        self.corpus_dir = corpus_dir
        self.samplers = {
            lang: SentenceSampler(load_vocabulary(corpus_dir / "vocab" / f"{lang}.json"),
                                  float(cfg["sentence_power"]))
            for lang in all_languages(cfg)}
        raw = np.load(corpus_dir / "babble.npy")
        self.bank = [row[1:int(row[0]) + 1].astype(np.float64) for row in raw]
        sp = cfg["speakers"]
        self.train_variants, self.test_variants = split_variants(
            sp["variants"], float(sp["heldout_variant_fraction"]), int(cfg["seed"]))
        self.pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def speaker(self, spec: UttSpec):
        variants = self.test_variants if spec.role == "test" and self.test_variants \
            else self.train_variants
        s = self.cfg["sets"][spec.set]
        if is_speaker_set(s):
            voice = language_spec(spec.lang, self.cfg["languages"]).voice
            return make_sv_speaker(self.cfg, s, spec.lang, voice, spec.role,
                                   spec.speaker_index, variants)
        if uses_backends(s):
            key = (spec.set, spec.lang)
            if key not in self.pairs:
                self.pairs[key] = candidates(self.cfg, spec.set, spec.lang)
            return make_synth_speaker(self.cfg, spec.set, spec.lang, spec.role,
                                      spec.speaker_index, self.pairs[key], variants)
        voice = language_spec(spec.lang, self.cfg["languages"]).voice
        return make_speaker(spec.lang, voice, spec.role, spec.speaker_index,
                            int(self.cfg["seed"]), self.cfg["speakers"], variants)


_CTX: _Context | None = None


def _init_worker(cfg: dict, corpus_dir: str) -> None:
    global _CTX
    _CTX = _Context(cfg, Path(corpus_dir))


def utt_id(spec: UttSpec, speaker_id: str) -> str:
    return f"{speaker_id}-{spec.set}-{spec.index:06d}"


def _write_audio(path: Path, audio: np.ndarray, fmt: str) -> None:
    pcm = np.round(audio * 32768.0).clip(-32768, 32767).astype(np.int16)
    with atomic_path(path) as tmp:
        sf.write(tmp, pcm, 16000, format=fmt.upper(), subtype="PCM_16")


def run_shard(set_name: str, shard: int, specs: list[UttSpec]) -> tuple[str, int, int]:
    """Render one shard's utterances, write audio + shard manifest, mark it done."""
    ctx = _CTX
    fmt = ctx.cfg["audio_format"]
    audio_dir = (ctx.corpus_dir / "audio" / set_name).resolve()
    rows = []
    for spec in specs:
        spk = ctx.speaker(spec)
        utt = utt_id(spec, spk.id)
        sampler = ctx.samplers[spec.lang]
        if not isinstance(spk, SynthSpeaker):
            r = render(spec, spk, sampler, ctx.cfg, ctx.bank)
            synth, synth_voice = "espeak", spk.voice.split("+")[0]
        elif spk.espeak is not None:
            r = render(spec, spk.espeak, sampler, ctx.cfg, ctx.bank, spk.transform)
            synth, synth_voice = spk.synth, spk.voice
        else:
            r = render_unaligned(spec, spk, sampler, ctx.cfg, ctx.bank)
            synth, synth_voice = spk.synth, spk.voice
        path = audio_dir / f"{utt}.{fmt}"
        _write_audio(path, r.audio, fmt)
        n = len(r.audio)
        rec = Recording(id=utt, sources=[AudioSource(type="file", channels=[0],
                                                     source=str(path))],
                        sampling_rate=16000, num_samples=n, duration=n / 16000)
        custom = {"set": set_name, "voice": spk.to_dict(), "channel": r.channel,
                  "speech_s": r.speech_s, "mode": spec.mode, "target_speech_s": spec.speech_s,
                  "text_tries": r.tries, "synthesizer": synth, "synth_voice": synth_voice}
        if r.word_starts is not None:
            custom["word_starts"] = r.word_starts
        sup = SupervisionSegment(
            id=utt, recording_id=utt, start=0.0, duration=n / 16000, channel=0, text=r.text,
            language=spec.lang, speaker=spk.id, custom=custom,
            alignment=None if r.alignment is None else
            {"phone": [AlignmentItem(symbol=s, start=a, duration=d) for s, a, d in r.alignment]})
        rec, sup = rec.to_dict(), sup.to_dict()
        rows.append({"recording": rec, "supervision": sup})
    out = shard_path(ctx.corpus_dir, set_name, shard)
    with atomic_open(out) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    write_text_atomic(out.with_suffix(".done"), shard_fingerprint(ctx.cfg, specs) + "\n")
    return set_name, shard, len(rows)


def shard_path(corpus_dir: Path, set_name: str, shard: int) -> Path:
    return corpus_dir / "shards" / set_name / f"{shard:05d}.jsonl"


def _run_one(task):
    return run_shard(*task)


def generate_shards(cfg: dict, corpus_dir, sets: list[str] | None = None, nj: int = 1) -> int:
    """Create every missing shard of `sets` (all by default); returns how many were made."""
    corpus_dir = Path(corpus_dir)
    names = list(sets or cfg["sets"])
    for name in names:
        if name not in cfg["sets"]:
            raise ConfigError("sets", f"unknown set '{name}'", fix=f"one of {list(cfg['sets'])}")
    prepare_resources(cfg, corpus_dir, names)
    tasks = []
    for name in names:
        for k, specs in enumerate(shards_of(plan_set(cfg, name), int(cfg["shard_size"]))):
            marker = shard_path(corpus_dir, name, k).with_suffix(".done")
            if not _is_done(marker, shard_fingerprint(cfg, specs)):
                tasks.append((name, k, specs))
    total = sum(len(t[2]) for t in tasks)
    log.info("%d shards (%d utterances) to generate with nj=%d", len(tasks), total, nj)
    bar = tqdm(total=total, desc="make-corpus", unit="utt", disable=not tasks)
    if nj <= 1 or len(tasks) <= 1:
        _init_worker(cfg, str(corpus_dir))
        for task in tasks:
            bar.update(_run_one(task)[2])
    else:
        with mp.get_context("spawn").Pool(nj, initializer=_init_worker,
                                          initargs=(cfg, str(corpus_dir))) as pool:
            for _, _, n in pool.imap_unordered(_run_one, tasks):
                bar.update(n)
    bar.close()
    return len(tasks)


def read_set_rows(cfg: dict, corpus_dir, name: str) -> list[dict]:
    """All rows of a set in plan order; a missing or unfinished shard is an error."""
    corpus_dir = Path(corpus_dir)
    rows = []
    for k, specs in enumerate(shards_of(plan_set(cfg, name), int(cfg["shard_size"]))):
        path = shard_path(corpus_dir, name, k)
        if not _is_done(path.with_suffix(".done"), shard_fingerprint(cfg, specs)):
            raise DataDirError(path, "shard is not finished", fix="re-run lidtool make-corpus")
        with open(path, encoding="utf-8") as f:
            rows.extend(json.loads(line) for line in f)
    ids = [r["supervision"]["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise DataDirError(corpus_dir / "shards" / name, "duplicate utterance ids in shards")
    return rows


def _write_jsonl_gz(path: Path, items: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                   filename="") as gz:
            for item in items:
                gz.write((json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8"))


def write_manifests(cfg: dict, corpus_dir, manifest_dir, name: str) -> tuple[Path, Path]:
    """data/manifests/synth_{recordings,supervisions}_<set>.jsonl.gz (lhotse format)."""
    rows = read_set_rows(cfg, corpus_dir, name)
    rows.sort(key=lambda r: r["supervision"]["id"])
    manifest_dir = Path(manifest_dir)
    recs = manifest_dir / f"synth_recordings_{name}.jsonl.gz"
    sups = manifest_dir / f"synth_supervisions_{name}.jsonl.gz"
    _write_jsonl_gz(recs, [r["recording"] for r in rows])
    _write_jsonl_gz(sups, [r["supervision"] for r in rows])
    return recs, sups


def write_data_dir(recs_path: Path, sups_path: Path, out_dir) -> Path:
    from lhotse import load_manifest
    from lidtool.data.lhotse_io import manifests_to_data_dir
    return manifests_to_data_dir(load_manifest(recs_path), load_manifest(sups_path), out_dir)


def write_lexicon(sup_paths: list[Path], dict_dir) -> Path:
    """Kaldi dict dir from the phone alignments of sentence-mode sets: lexicon.txt (word ->
    phones, every pronunciation espeak used), silence/nonsilence/optional_silence phones."""
    from lhotse import load_manifest
    prons: dict[str, set[tuple[str, ...]]] = {}
    for path in sup_paths:
        for sup in load_manifest(path):
            if sup.custom.get("mode") != "sentence":
                raise ConfigError(path, f"'{sup.id}' is not a whole-sentence utterance; "
                                  "lexicons come from sentence-mode sets only")
            words = sup.text.split()
            for word, phones in zip(words, _word_phones(sup), strict=True):
                prons.setdefault(word, set()).add(tuple(phones))
    dict_dir = Path(dict_dir)
    phones = sorted({p for ps in prons.values() for pr in ps for p in pr})
    with atomic_open(dict_dir / "lexicon.txt") as f:
        f.write(f"<sil> {SIL}\n")
        for word in sorted(prons):
            for pron in sorted(prons[word]):
                f.write(f"{word} {' '.join(pron)}\n")
    with atomic_open(dict_dir / "nonsilence_phones.txt") as f:
        f.write("".join(f"{p}\n" for p in phones))
    with atomic_open(dict_dir / "silence_phones.txt") as f:
        f.write(f"{SIL}\n")
    with atomic_open(dict_dir / "optional_silence.txt") as f:
        f.write(f"{SIL}\n")
    return dict_dir


def _word_phones(sup) -> list[list[str]]:
    """Split a sentence's phone alignment into words using the word boundaries kept in
    custom['word_starts'] (seconds)."""
    starts = sup.custom["word_starts"]
    out: list[list[str]] = [[] for _ in starts]
    for item in sup.alignment["phone"]:
        if item.symbol == SIL:
            continue
        k = max(i for i, s in enumerate(starts) if s <= item.start + 1e-6) \
            if item.start + 1e-6 >= starts[0] else 0
        out[k].append(item.symbol)
    return out


def make_corpus(cfg: dict, corpus_dir, data_dir, *, sets: list[str] | None = None,
                nj: int = 1) -> list[Path]:
    """Shards -> data/manifests/*.jsonl.gz -> Kaldi dirs data/<set> (validated) -> Kaldi
    dict dirs data/local/dict_<lang> for the sentence-mode (ASR) sets. Resumable."""
    data_dir = Path(data_dir)
    names = list(sets or cfg["sets"])
    generate_shards(cfg, corpus_dir, names, nj=nj)
    out, asr_sups = [], {}
    for name in names:
        marker = data_dir / name / ".corpus.done"
        recs, sups = (data_dir / "manifests" / f"synth_{kind}_{name}.jsonl.gz"
                      for kind in ("recordings", "supervisions"))
        fp = [shard_fingerprint(cfg, specs) for specs in
              shards_of(plan_set(cfg, name), int(cfg["shard_size"]))]
        trials = trial_options(cfg["sets"][name])
        # the trial options join the data dir's fingerprint (not the shards': a new trial
        # list must not re-render audio); sets without trials keep their old fingerprint
        fp = _digest(fp if trials is None else fp + [trials])
        if not _is_done(marker, fp):
            recs, sups = write_manifests(cfg, corpus_dir, data_dir / "manifests", name)
            write_data_dir(recs, sups, data_dir / name)
            if trials is not None:
                write_set_trials(data_dir / name, trials)
            write_text_atomic(marker, fp + "\n")
        s = cfg["sets"][name]
        if s.get("mode", "cut") == "sentence":
            for lang in s["langs"]:
                asr_sups.setdefault(lang, []).append(sups)
        out.append(data_dir / name)
    for lang, paths in asr_sups.items():
        write_lexicon(paths, data_dir / "local" / f"dict_{lang}")
    for name in names:
        if cfg["sets"][name].get("heldout_synth_of"):
            check_heldout_synth(cfg, data_dir / "manifests", name)
    return out

