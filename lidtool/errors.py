"""Exceptions that the command line turns into one clear message.

Every error about user input says which file (and line, where there is one) is wrong
and, where we know it, how to fix it, so that a recipe failing deep inside stage 5 is
still diagnosable from the last line of its log.
"""
from __future__ import annotations


class LidtoolError(Exception):
    """Base class: the CLI prints these as `ERROR: <message>` and exits 1 (no traceback)."""


class InputError(LidtoolError):
    """Bad user input located in a file, optionally at a line."""

    def __init__(self, path, message: str, line: int | None = None, fix: str | None = None):
        self.path = str(path)
        self.line = line
        self.fix = fix
        self.reason = message
        where = self.path if line is None else f"{self.path}:{line}"
        text = f"{where}: {message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)

    def __reduce__(self):
        # a worker process's error reaches the pool as a pickle; the default reduce
        # would call __init__ with the formatted text only, and the pool would hang
        return (type(self), (self.path, self.reason, self.line, self.fix))


class DataDirError(InputError):
    """A Kaldi data directory is malformed or inconsistent."""


class FeatureError(InputError):
    """Features are unusable (NaN/Inf, wrong dimension, too short)."""


class AudioError(InputError):
    """Audio is missing, unreadable, empty or shorter than needed."""


class ConfigError(InputError):
    """A config names something unknown or has a bad value."""


class CheckpointError(InputError):
    """A checkpoint is missing, truncated or not a lidtool checkpoint."""
