"""The built-in synthetic LID corpus: espeak-ng (and, per set, Festival, flite, MBROLA) speech
in many languages and varieties with synthetic speakers, per-speaker voice transforms,
channels and phone alignments, as lhotse manifests and Kaldi data dirs (README.md).

Entry points: `sets.load_config(path, overrides)`, `generate.make_corpus(cfg, corpus_dir,
data_dir, sets=None, nj=1)`, `stats.corpus_stats(data_dirs, out_dir)`.
"""
