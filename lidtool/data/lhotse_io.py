"""lhotse manifests <-> Kaldi data dirs, with the language kept on the supervision.

A recording with exactly one supervision spanning all of it becomes one wav.scp line keyed
by the utterance id (no `segments`); anything else is written with a `segments` file.
"""
from __future__ import annotations

from pathlib import Path

import soundfile as sf
from lhotse import AudioSource, CutSet, MonoCut, Recording, RecordingSet, SupervisionSegment, \
    SupervisionSet

from lidtool.data.audio import read_audio
from lidtool.data.datadir import DataDir, validate_data_dir, write_data_dir
from lidtool.errors import DataDirError

_WHOLE_TOL = 0.01  # seconds: a supervision this close to the recording's ends spans it


def _source_spec(rec: Recording) -> str:
    if len(rec.sources) != 1:
        raise DataDirError(rec.id, "recordings with several audio sources are not supported")
    src = rec.sources[0]
    if src.type == "file":
        spec = str(src.source)
        if len(src.channels) > 1 or src.channels[0] != 0:
            ch = src.channels[0] + 1
            spec = f"sox {spec} -t wav - remix {ch} |"
        return spec
    if src.type == "command":
        return f"{src.source} |"
    raise DataDirError(rec.id, f"audio source type '{src.type}' cannot go into wav.scp")


def manifests_to_data_dir(recordings: RecordingSet, supervisions: SupervisionSet, out_dir,
                          *, require_language: bool = True) -> Path:
    """Write a validated Kaldi data dir from lhotse recordings + supervisions."""
    recs = {rec.id: rec for rec in recordings}
    by_reco: dict[str, list[SupervisionSegment]] = {}
    for sup in supervisions:
        by_reco.setdefault(sup.recording_id, []).append(sup)
    whole = all(
        len(sups) == 1 and sups[0].start <= _WHOLE_TOL and
        rid in recs and abs(sups[0].end - recs[rid].duration) <= _WHOLE_TOL
        for rid, sups in by_reco.items())
    tables: dict[str, dict] = {name: {} for name in ("wav.scp", "utt2spk", "utt2dur")}
    if not whole:
        tables["segments"] = {}
        tables["reco2dur"] = {}
    langs, texts = {}, {}
    for rid, sups in by_reco.items():
        if rid not in recs:
            raise DataDirError(sups[0].id, f"supervision refers to recording '{rid}', "
                               "which is not in the RecordingSet")
        rec = recs[rid]
        spec = _source_spec(rec)
        if whole:
            tables["wav.scp"][sups[0].id] = spec
        else:
            tables["wav.scp"][rid] = spec
            tables["reco2dur"][rid] = f"{rec.duration:.3f}"
        for sup in sups:
            utt = sup.id
            tables["utt2spk"][utt] = sup.speaker or utt
            tables["utt2dur"][utt] = f"{sup.duration:.3f}"
            if not whole:
                tables["segments"][utt] = f"{rid} {sup.start:.3f} {sup.end:.3f}"
            if sup.language is not None:
                langs[utt] = sup.language
            elif require_language:
                raise DataDirError(utt, "supervision has no language",
                                   fix="set SupervisionSegment.language")
            if sup.text is not None:
                texts[utt] = sup.text
    if langs:
        tables["utt2lang"] = langs
    if texts:
        tables["text"] = texts
    write_data_dir(out_dir, tables)
    validate_data_dir(out_dir, need_lang=require_language)
    return Path(out_dir)


def cuts_to_data_dir(cuts: CutSet, out_dir, **kw) -> Path:
    recordings, supervisions, _ = cuts.decompose()
    return manifests_to_data_dir(recordings, supervisions, out_dir, **kw)


def _recording(rid: str, spec: str, where) -> Recording:
    if spec.endswith("|"):
        samples, sr = read_audio(spec, where=where)
        return Recording(id=rid, sources=[AudioSource(type="command", channels=[0],
                                                      source=spec[:-1].strip())],
                         sampling_rate=sr, num_samples=len(samples),
                         duration=len(samples) / sr)
    try:
        info = sf.info(spec)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        from lidtool.errors import AudioError
        raise AudioError(where[0], f"cannot read audio '{spec}': {err}", line=where[1]) from None
    return Recording(id=rid, sources=[AudioSource(type="file", channels=[0], source=spec)],
                     sampling_rate=info.samplerate, num_samples=info.frames,
                     duration=info.frames / info.samplerate)


def data_dir_to_manifests(data_dir) -> tuple[RecordingSet, SupervisionSet]:
    """Read a Kaldi data dir into lhotse RecordingSet + SupervisionSet (language from utt2lang)."""
    d = validate_data_dir(data_dir)
    recs = [_recording(rid, spec, d.wav_scp.where(rid)) for rid, spec in d.wav_scp.items()]
    recordings = RecordingSet.from_recordings(recs)
    sups = []
    for utt in d.utts:
        if d.segments is not None:
            rid, start, end = d.segments[utt].split()
            start, end = float(start), float(end)
            if end < 0:
                end = recordings[rid].duration
        else:
            rid, start, end = utt, 0.0, recordings[utt].duration
        sups.append(SupervisionSegment(
            id=utt, recording_id=rid, start=start, duration=round(end - start, 6), channel=0,
            speaker=d.utt2spk[utt],
            language=d.utt2lang[utt] if d.utt2lang is not None else None,
            text=d.text[utt] if d.text is not None else None))
    return recordings, SupervisionSet.from_segments(sups)


def data_dir_to_cuts(data_dir) -> CutSet:
    """One cut per utterance, with the utterance id as cut id (so Kaldi ids survive)."""
    recordings, supervisions = data_dir_to_manifests(data_dir)
    recs = {rec.id: rec for rec in recordings}
    cuts = []
    for sup in supervisions:
        cuts.append(MonoCut(id=sup.id, start=sup.start, duration=sup.duration, channel=0,
                            recording=recs[sup.recording_id],
                            supervisions=[sup.with_offset(-sup.start)]))
    return CutSet.from_cuts(cuts)
