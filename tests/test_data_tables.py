"""Kaldi tables: errors of a split part name the user's own file and line; ids that are not
UTF-8 are a clear error naming the line."""
from __future__ import annotations

import pytest

from lidtool.cli import main as cli
from lidtool.data.datadir import split_data_dir
from lidtool.data.tables import read_table, split_source
from lidtool.errors import DataDirError


def test_non_utf8_id_names_file_line_and_byte(tmp_path):
    path = tmp_path / "utt2lang"
    path.write_bytes("a eng\nb fra\nc\xe9 eng\n".encode("latin-1"))
    with pytest.raises(DataDirError) as err:
        read_table(path)
    msg = str(err.value)
    assert f"{path}:3: not valid UTF-8 (byte 0xe9 at column 2)" in msg and "iconv" in msg


def test_utf8_ids_and_crlf_lines_are_read(tmp_path):
    path = tmp_path / "utt2lang"
    path.write_bytes("a eng\r\nb\u00e9 fra\r\n".encode("utf-8"))
    assert dict(read_table(path)) == {"a": "eng", "b\u00e9": "fra"}


def test_split_part_points_at_the_source_line(tiny_data_dir):
    parts = split_data_dir(tiny_data_dir, 2)
    table = read_table(parts[1] / "wav.scp")
    utt = list(table)[1]
    source = read_table(tiny_data_dir / "wav.scp")
    assert table.lines[utt] == 2 and source.lines[utt] == 5
    assert table.where(utt) == (str(tiny_data_dir / "wav.scp"), 5)
    assert str(table.error(utt, "bad")).startswith(f"{tiny_data_dir}/wav.scp:5: bad")
    assert split_source(parts[1] / "wav.scp") == tiny_data_dir / "wav.scp"
    assert split_source(tiny_data_dir / "wav.scp") is None


def test_failing_split_job_names_the_users_wav_scp_line(tiny_data_dir, tmp_path, capsys):
    lines = (tiny_data_dir / "wav.scp").read_text().splitlines()
    utt, wav = lines[4].split()
    (tmp_path / "wav" / wav.rsplit("/", 1)[1]).unlink()
    parts = split_data_dir(tiny_data_dir, 2)
    conf = tmp_path / "mfcc.conf"
    conf.write_text("--num-ceps=13\n")
    assert cli(["compute-feats", "--config", str(conf), str(parts[1]),
                str(tmp_path / "ark")]) == 1
    err = capsys.readouterr().err
    assert f"{tiny_data_dir}/wav.scp:5: audio file '{wav}' does not exist" in err
    assert "split2" not in err
