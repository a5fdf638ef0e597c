"""Trial lists: counts, target share, uniqueness, same-group nontargets, determinism, errors,
and the `lidtool make-trials` command."""
from __future__ import annotations

import pytest

from lidtool.bin import make_trials as make_trials_cmd
from lidtool.cli import build_parser
from lidtool.data.trials import make_trials, write_trials
from lidtool.errors import DataDirError


def speakers(n_spk=6, n_utt=5, langs=("en", "es")):
    u2s, u2l = {}, {}
    for s in range(n_spk):
        for u in range(n_utt):
            utt = f"s{s}-u{u}"
            u2s[utt], u2l[utt] = f"s{s}", langs[s % len(langs)]
    return u2s, u2l


def test_counts_targets_and_uniqueness():
    u2s, _ = speakers()
    trials = make_trials(u2s, 100, 0.5, seed=3)
    assert len(trials) == 100
    assert sum(k == "target" for _, _, k in trials) == 50
    for a, b, kind in trials:
        assert a != b and (kind == "target") == (u2s[a] == u2s[b])
    pairs = {frozenset((a, b)) for a, b, _ in trials}
    assert len(pairs) == 100                       # no pair twice, in either order
    assert trials == sorted(trials)
    assert make_trials(u2s, 100, 0.5, seed=3) == trials
    assert make_trials(u2s, 100, 0.5, seed=4) != trials


def test_every_target_pair_can_be_used():
    u2s, _ = speakers(n_spk=3, n_utt=4)             # 3 * 6 = 18 same-speaker pairs
    trials = make_trials(u2s, 36, 0.5)
    assert sum(k == "target" for *_, k in trials) == 18
    with pytest.raises(DataDirError, match="only 18 pairs"):
        make_trials(u2s, 40, 0.5, where="data/x/utt2spk")


def test_nontargets_within_group():
    u2s, u2l = speakers(n_spk=8)
    for a, b, kind in make_trials(u2s, 80, 0.5, utt2group=u2l):
        if kind == "nontarget":
            assert u2l[a] == u2l[b]
    u2s, u2l = speakers(n_spk=2)                    # one speaker per language
    with pytest.raises(DataDirError, match="every group holds one speaker"):
        make_trials(u2s, 10, 0.5, utt2group=u2l)
    with pytest.raises(DataDirError, match="target fraction"):
        make_trials(u2s, 10, 1.0)


def test_files_and_command(tmp_path, capsys):
    u2s, u2l = speakers()
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(u2s.items())))
    (d / "utt2lang").write_text("".join(f"{u} {s}\n" for u, s in sorted(u2l.items())))
    args = build_parser(make_trials_cmd, "lidtool make-trials").parse_args(
        ["--count", "40", "--same-lang-nontarget", "true", "--seed", "2", str(d)])
    assert make_trials_cmd.main(args) == 0
    lines = (d / "trials").read_text().splitlines()
    assert len(lines) == 40 and all(len(line.split()) == 3 for line in lines)
    expected = make_trials(u2s, 40, 0.5, seed=2, utt2group=u2l)
    assert [tuple(line.split()) for line in lines] == expected
    assert (d / "enroll.list").read_text().split() == sorted({t[0] for t in expected})
    assert (d / "test.list").read_text().split() == sorted({t[1] for t in expected})
    (d / "utt2lang").unlink()
    with pytest.raises(DataDirError, match="utt2lang"):
        make_trials_cmd.main(args)
    # a failed run leaves the earlier list intact
    write_trials(d, expected)
    before = (d / "trials").read_text()
    args = build_parser(make_trials_cmd, "x").parse_args(["--count", "4000", str(d)])
    with pytest.raises(DataDirError, match="utt2spk"):
        make_trials_cmd.main(args)
    assert (d / "trials").read_text() == before


@pytest.mark.parametrize("opts, same_lang", [
    ([], True), (["--same-lang-nontarget", "auto"], True),
    (["--same-lang-nontarget", "true"], True), (["--same-lang-nontarget", "false"], False)])
def test_same_lang_nontarget_option(tmp_path, opts, same_lang):
    u2s, u2l = speakers()
    d = tmp_path / "data"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(u2s.items())))
    (d / "utt2lang").write_text("".join(f"{u} {s}\n" for u, s in sorted(u2l.items())))
    args = build_parser(make_trials_cmd, "x").parse_args(["--count", "40", *opts, str(d)])
    assert make_trials_cmd.main(args) == 0
    got = [tuple(line.split()) for line in (d / "trials").read_text().splitlines()]
    assert got == make_trials(u2s, 40, 0.5, seed=1, utt2group=u2l if same_lang else None)
    # auto without utt2lang: any speakers
    (d / "utt2lang").unlink()
    if opts in ([], ["--same-lang-nontarget", "auto"]):
        assert make_trials_cmd.main(args) == 0
        got = [tuple(line.split()) for line in (d / "trials").read_text().splitlines()]
        assert got == make_trials(u2s, 40, 0.5, seed=1)


def test_same_lang_nontarget_refuses_other_values(tmp_path):
    with pytest.raises(SystemExit):
        build_parser(make_trials_cmd, "x").parse_args(["--same-lang-nontarget", "yes",
                                                       str(tmp_path)])
