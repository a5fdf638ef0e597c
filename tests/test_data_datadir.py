import subprocess

import numpy as np
import pytest

from lidtool.data.datadir import (DataDir, iter_utterance_audio, split_data_dir,
                                  subset_data_dir, validate_data_dir)
from lidtool.data.ops import combine_data_dirs, copy_data_dir, fix_data_dir
from lidtool.data.tables import read_table, write_table
from lidtool.errors import AudioError, DataDirError

from conftest import make_wav, write_lines


def test_valid_dir_passes_and_derives_lang2utt(tiny_data_dir):
    d = validate_data_dir(tiny_data_dir, need_lang=True)
    assert len(d.utts) == 6
    assert d.utt2lang["spkB-utt2"] == "fra"


def test_unsorted_table_names_file_and_line(tiny_data_dir):
    lines = (tiny_data_dir / "utt2lang").read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(tiny_data_dir / "utt2lang", lines)
    with pytest.raises(DataDirError) as err:
        validate_data_dir(tiny_data_dir)
    msg = str(err.value)
    assert "utt2lang:3" in msg and "not sorted" in msg and "fix_data_dir" in msg


def test_duplicate_key_is_an_error(tiny_data_dir):
    lines = (tiny_data_dir / "utt2spk").read_text().splitlines()
    write_lines(tiny_data_dir / "utt2spk", lines[:2] + [lines[1]] + lines[2:])
    with pytest.raises(DataDirError, match=r"utt2spk:3: duplicate key 'spkA-utt1'"):
        validate_data_dir(tiny_data_dir)


def test_utt2lang_missing_an_utterance(tiny_data_dir):
    lines = (tiny_data_dir / "utt2lang").read_text().splitlines()
    write_lines(tiny_data_dir / "utt2lang", lines[:3] + lines[4:])
    with pytest.raises(DataDirError) as err:
        validate_data_dir(tiny_data_dir)
    assert "utt2lang" in str(err.value) and "spkB-utt3" in str(err.value)
    assert "utt2spk line 4" in str(err.value)


def test_spk2utt_inconsistent(tiny_data_dir):
    write_lines(tiny_data_dir / "spk2utt", ["spkA spkA-utt0", "spkB spkB-utt2 spkB-utt3",
                                            "spkC spkC-utt4 spkC-utt5"])
    with pytest.raises(DataDirError, match=r"spk2utt:1: spk2utt disagrees"):
        validate_data_dir(tiny_data_dir)


def test_zero_duration_is_an_error(tiny_data_dir):
    text = (tiny_data_dir / "utt2dur").read_text().replace("spkB-utt3 0.800", "spkB-utt3 0")
    (tiny_data_dir / "utt2dur").write_text(text)
    with pytest.raises(DataDirError, match=r"utt2dur:4: .*positive"):
        validate_data_dir(tiny_data_dir)


def test_missing_wav_names_wav_scp_line(tiny_data_dir):
    lines = (tiny_data_dir / "wav.scp").read_text().splitlines()
    lines[2] = "spkB-utt2 /nonexistent/x.wav"
    write_lines(tiny_data_dir / "wav.scp", lines)
    with pytest.raises(AudioError, match=r"wav.scp:3: audio file '/nonexistent/x.wav' does not"):
        list(iter_utterance_audio(tiny_data_dir))


def test_empty_audio_is_an_error(tiny_data_dir, tmp_path):
    import soundfile as sf
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    lines = (tiny_data_dir / "wav.scp").read_text().splitlines()
    lines[0] = f"spkA-utt0 {empty}"
    write_lines(tiny_data_dir / "wav.scp", lines)
    with pytest.raises(AudioError, match=r"wav.scp:1: .*empty"):
        list(iter_utterance_audio(tiny_data_dir))


def test_pipe_wav_and_segments(tmp_path):
    reco = make_wav(tmp_path / "reco.wav", 2.0, 440.0)
    d = tmp_path / "d"
    d.mkdir()
    write_lines(d / "wav.scp", [f"r1 cat {reco} |"])
    write_lines(d / "segments", ["r1-a r1 0.00 0.50", "r1-b r1 0.50 2.00"])
    write_lines(d / "utt2spk", ["r1-a r1", "r1-b r1"])
    write_lines(d / "spk2utt", ["r1 r1-a r1-b"])
    validate_data_dir(d)
    got = {u: len(x) for u, x, sr in iter_utterance_audio(d)}
    assert got == {"r1-a": 8000, "r1-b": 24000}


def test_failing_pipe_is_an_error(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    write_lines(d / "wav.scp", ["u1 false |"])
    write_lines(d / "utt2spk", ["u1 u1"])
    with pytest.raises(AudioError, match=r"wav.scp:1: command 'false' failed"):
        list(iter_utterance_audio(d))


def test_subset_split_combine_roundtrip(tiny_data_dir, tmp_path):
    sub = subset_data_dir(tiny_data_dir, tmp_path / "sub", spks=["spkB"])
    assert DataDir(sub).utts == ["spkB-utt2", "spkB-utt3"]
    assert (sub / "lang2utt").read_text() == "fra spkB-utt2 spkB-utt3\n"
    parts = split_data_dir(tiny_data_dir, 4)
    assert [len(DataDir(p).utts) for p in parts] == [1, 2, 1, 2]
    for p in parts:
        validate_data_dir(p)
    combined = combine_data_dirs(tmp_path / "comb", parts)
    assert DataDir(combined).utts == DataDir(tiny_data_dir).utts
    assert (combined / "utt2lang").read_text() == (tiny_data_dir / "utt2lang").read_text()
    # a split newer than its source is reused, not rewritten
    mtime = (parts[0] / "utt2spk").stat().st_mtime_ns
    assert split_data_dir(tiny_data_dir, 4) == parts
    assert (parts[0] / "utt2spk").stat().st_mtime_ns == mtime


def test_split_more_jobs_than_utts(tiny_data_dir):
    with pytest.raises(DataDirError, match="cannot split 6 utterances into 7 jobs"):
        split_data_dir(tiny_data_dir, 7)


def test_split_per_speaker_keeps_speakers_whole(tiny_data_dir):
    parts = split_data_dir(tiny_data_dir, 3, per_spk=True)
    assert [sorted(set(DataDir(p).utt2spk.values())) for p in parts] == \
        [["spkA"], ["spkB"], ["spkC"]]


def test_combine_rejects_duplicate_ids(tiny_data_dir, tmp_path):
    with pytest.raises(DataDirError, match="also appears"):
        combine_data_dirs(tmp_path / "c", [tiny_data_dir, tiny_data_dir])


def test_copy_with_prefix(tiny_data_dir, tmp_path):
    out = copy_data_dir(tiny_data_dir, tmp_path / "c", utt_prefix="sp1.1-", spk_prefix="sp1.1-")
    d = validate_data_dir(out)
    assert d.utt2spk["sp1.1-spkA-utt0"] == "sp1.1-spkA"


def test_fix_data_dir_sorts_dedups_and_drops(tiny_data_dir):
    lines = (tiny_data_dir / "utt2spk").read_text().splitlines()
    write_lines(tiny_data_dir / "utt2spk", list(reversed(lines)) + [lines[0]])
    lang = (tiny_data_dir / "utt2lang").read_text().splitlines()
    write_lines(tiny_data_dir / "utt2lang", lang[1:])   # spkA-utt0 has no language
    counts = fix_data_dir(tiny_data_dir)
    assert counts == {"kept": 5, "dropped": 1}
    d = validate_data_dir(tiny_data_dir, need_lang=True)
    assert "spkA-utt0" not in d.utts
    assert (tiny_data_dir / ".backup" / "utt2spk").is_file()


def test_write_table_is_atomic_on_failure(tmp_path):
    target = tmp_path / "utt2lang"
    write_table(target, {"b": "x", "a": "y"})
    assert target.read_text() == "a y\nb x\n"

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_table(target, {"c": Boom()})
    assert target.read_text() == "a y\nb x\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_read_table_reports_line_of_empty_value(tmp_path):
    write_lines(tmp_path / "utt2spk", ["a x", "b"])
    with pytest.raises(DataDirError, match=r"utt2spk:2: key 'b' has no value"):
        read_table(tmp_path / "utt2spk")


def test_shell_wrappers(tiny_data_dir, tmp_path, repo):
    def sh(*args, check=True):
        return subprocess.run([str(repo / "utils" / args[0]), *map(str, args[1:])],
                              capture_output=True, text=True, check=check)
    assert sh("validate_data_dir.sh", "--no-feats", tiny_data_dir).returncode == 0
    bad = sh("validate_data_dir.sh", tiny_data_dir, check=False)
    assert bad.returncode == 1 and "feats.scp: file does not exist" in bad.stderr
    sh("subset_data_dir.sh", "--first", tiny_data_dir, 2, tmp_path / "first2")
    assert DataDir(tmp_path / "first2").utts == ["spkA-utt0", "spkA-utt1"]
    sh("split_data.sh", tiny_data_dir, 2)
    assert (tiny_data_dir / "split2" / "2" / "utt2lang").is_file()
    out = sh("utt2spk_to_spk2utt.sh", tiny_data_dir / "utt2lang").stdout
    assert out.splitlines()[0] == "eng spkA-utt0 spkA-utt1 spkC-utt4"
    sh("copy_data_dir.sh", "--utt-prefix", "v-", tiny_data_dir, tmp_path / "cp")
    assert DataDir(tmp_path / "cp").utts[0] == "v-spkA-utt0"
    assert "usage" in sh("fix_data_dir.sh", "--help").stdout
    unknown = sh("copy_data_dir.sh", "--bogus", "1", "a", "b", check=False)
    assert unknown.returncode != 0 and "unknown option --bogus" in unknown.stderr


def test_speaker_and_recording_tables_follow_subsets(tiny_data_dir, tmp_path):
    write_lines(tiny_data_dir / "spk2gender", ["spkA m", "spkB f", "spkC m"])
    write_lines(tiny_data_dir / "utt2uniq", [f"{u} {u}" for u in DataDir(tiny_data_dir).utts])
    sub = subset_data_dir(tiny_data_dir, tmp_path / "sub", spks=["spkB"])
    assert (sub / "spk2gender").read_text() == "spkB f\n"
    assert (sub / "utt2uniq").read_text() == "spkB-utt2 spkB-utt2\nspkB-utt3 spkB-utt3\n"
    cp = copy_data_dir(sub, tmp_path / "cp", utt_prefix="u-", spk_prefix="s-")
    assert (cp / "spk2gender").read_text() == "s-spkB f\n"
    parts = split_data_dir(tiny_data_dir, 2)
    combined = combine_data_dirs(tmp_path / "comb", parts)
    assert (combined / "spk2gender").read_text() == (tiny_data_dir / "spk2gender").read_text()


def test_merge_tables_is_the_union_and_a_key_in_two_jobs_is_an_error(tmp_path):
    from lidtool.data.tables import merge_tables
    (tmp_path / "a.1.scp").write_text("u1 x.ark:1\nu3 x.ark:9\n")
    (tmp_path / "a.2.scp").write_text("u2 y.ark:1\n")
    assert merge_tables([tmp_path / "a.1.scp", tmp_path / "a.2.scp"]) == {
        "u1": "x.ark:1", "u2": "y.ark:1", "u3": "x.ark:9"}
    (tmp_path / "a.3.scp").write_text("u0 z.ark:1\nu3 z.ark:5\n")
    with pytest.raises(DataDirError, match=r"a\.3\.scp:2: 'u3' was written by two jobs "
                                           r"\(also in .*a\.1\.scp\)"):
        merge_tables([tmp_path / "a.1.scp", tmp_path / "a.3.scp"])


def test_segments_decode_each_recording_once(tmp_path, monkeypatch):
    import lidtool.data.datadir as datadir_mod
    from lidtool.data.audio import read_audio
    d = tmp_path / "d"
    d.mkdir()
    rec = {r: make_wav(tmp_path / f"{r}.wav", 2.0, f, seed=i)
           for i, (r, f) in enumerate([("recA", 300.0), ("recB", 900.0)])}
    # recB's segments sort between recA's: recA must stay decoded until its last one
    segs = {"a1": ("recA", 0.0, 0.5), "b1": ("recB", 0.2, 0.9), "b2": ("recB", 1.0, 1.5),
            "c1": ("recA", 1.2, 2.0)}
    write_lines(d / "wav.scp", [f"{r} {p}" for r, p in sorted(rec.items())])
    write_lines(d / "segments", [f"{u} {r} {s} {e}" for u, (r, s, e) in sorted(segs.items())])
    write_lines(d / "utt2spk", [f"{u} {u}" for u in sorted(segs)])
    calls = []
    real = datadir_mod.decode_audio
    monkeypatch.setattr(datadir_mod, "decode_audio",
                        lambda spec, **kw: calls.append(spec) or real(spec, **kw))
    got = {utt: (x, sr) for utt, x, sr in iter_utterance_audio(d)}
    assert sorted(calls) == [str(rec["recA"]), str(rec["recB"])]
    for utt, (reco, start, end) in segs.items():
        want, sr = read_audio(str(rec[reco]), start=start, end=end)
        assert got[utt][1] == sr and np.array_equal(got[utt][0], want)
    # a segment outside its recording still names the wav.scp line
    write_lines(d / "segments", ["a1 recA 0.0 0.5", "z9 recB 5.0 6.0"])
    write_lines(d / "utt2spk", ["a1 a1", "z9 z9"])
    with pytest.raises(AudioError, match="lies outside"):
        list(iter_utterance_audio(d))
