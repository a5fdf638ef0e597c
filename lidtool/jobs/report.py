"""What a failed job's log says: the last lines of its output, for the runner's error message."""
from __future__ import annotations


def failure_detail(log_path: str, code, lines: int = 8) -> str:
    """`exit code N; last lines of LOG:` plus up to `lines` output lines (not the # header)."""
    head = f"exit code {code}" if code is not None else "no exit status"
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            body = [ln.rstrip("\n") for ln in f if not ln.startswith("# ") and ln.strip() != "#"]
    except OSError as err:
        return f"{head}; cannot read {log_path}: {err.strerror}"
    tail = body[-lines:]
    if not tail:
        return f"{head}; the job printed nothing"
    return f"{head}; last lines of {log_path}:\n" + "\n".join("  " + ln for ln in tail)
