"""Reading audio: truncated and multi-channel files are read with a counted warning naming
the wav.scp line and the utterance; streamed WAVs of unknown length are not warned about."""
from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lidtool.cli import main as cli
from lidtool.data import audio
from lidtool.data.audio import read_audio, wav_header_frames
from conftest import make_wav


@pytest.fixture(autouse=True)
def fresh_counts():
    audio.ISSUES.clear()
    yield
    audio.ISSUES.clear()


def _truncate(path, keep: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[: 44 + int((len(data) - 44) * keep) // 2 * 2])
    return path


def test_truncated_wav_is_read_with_a_warning(tmp_path, caplog):
    wav = _truncate(make_wav(tmp_path / "a.wav", 1.0, 300.0))
    with caplog.at_level(logging.WARNING):
        x, sr = read_audio(str(wav), where=("data/x/wav.scp", 7), utt="utt7")
    assert len(x) == 8000 and sr == 16000
    assert "data/x/wav.scp:7: utterance 'utt7'" in caplog.text
    assert "header promises 16000 samples, the file holds 8000" in caplog.text
    assert audio.issue_summary() == "; audio warnings: 1 truncated"


def test_truncated_wav_through_a_pipe_is_warned_too(tmp_path, caplog):
    wav = _truncate(make_wav(tmp_path / "a.wav", 1.0, 300.0))
    with caplog.at_level(logging.WARNING):
        read_audio(f"cat {wav} |", where=("wav.scp", 2), utt="u")
    assert "is truncated" in caplog.text and audio.ISSUES["truncated"] == 1


def test_complete_and_streamed_wavs_are_not_warned(tmp_path, caplog):
    wav = make_wav(tmp_path / "a.wav", 0.5, 300.0)
    data = bytearray(wav.read_bytes())
    data[40:44] = b"\xff\xff\xff\xff"          # what sox writes to a pipe: unknown length
    streamed = tmp_path / "s.wav"
    streamed.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        read_audio(str(wav), utt="a")
        assert wav_header_frames(io.BytesIO(bytes(data))) is None
    assert not caplog.text and not audio.ISSUES


def test_stereo_uses_channel_0_with_a_warning(tmp_path, caplog):
    x = np.stack([np.full(1600, 0.25), np.full(1600, -0.5)], 1).astype(np.float32)
    sf.write(tmp_path / "st.wav", x, 16000, subtype="PCM_16")
    with caplog.at_level(logging.WARNING):
        y, _ = read_audio(str(tmp_path / "st.wav"), where=("wav.scp", 1), utt="st")
    assert np.allclose(y, 0.25, atol=1e-3)
    assert "utterance 'st'" in caplog.text and "has 2 channels; using channel 0" in caplog.text
    assert audio.ISSUES["multi-channel"] == 1


def test_compute_feats_summary_counts_the_warnings(tiny_data_dir, tmp_path, caplog):
    wavs = [line.split()[1] for line in (tiny_data_dir / "wav.scp").read_text().splitlines()]
    _truncate(Path(wavs[1]))
    conf = tmp_path / "mfcc.conf"
    conf.write_text("--num-ceps=13\n")
    with caplog.at_level(logging.INFO):
        assert cli(["compute-feats", "--config", str(conf), str(tiny_data_dir),
                    str(tmp_path / "ark")]) == 0
    assert f"{tiny_data_dir}/wav.scp:2: utterance 'spkA-utt1'" in caplog.text
    assert "; audio warnings: 1 truncated ->" in caplog.text
