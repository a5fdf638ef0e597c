"""Input errors keep their file, line and fix across a process boundary."""
import multiprocessing as mp
import pickle

import pytest

from lidtool.errors import (AudioError, CheckpointError, ConfigError, DataDirError,
                            FeatureError, InputError)


@pytest.mark.parametrize("cls", [InputError, DataDirError, FeatureError, AudioError,
                                 ConfigError, CheckpointError])
def test_pickle_round_trip_keeps_fields(cls):
    err = cls("data/train/wav.scp", "bad line", line=7, fix="remove it")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (back.path, back.reason, back.line, back.fix) == \
        ("data/train/wav.scp", "bad line", 7, "remove it")
    assert str(back) == str(err) == "data/train/wav.scp:7: bad line (fix: remove it)"


def _raise(_):
    raise ConfigError("conf/x.yaml", "unknown voice", line=3)


def test_error_in_pool_worker_reaches_the_caller():
    with mp.get_context("spawn").Pool(1) as pool:
        with pytest.raises(ConfigError, match=r"conf/x.yaml:3: unknown voice"):
            list(pool.imap_unordered(_raise, [0]))
