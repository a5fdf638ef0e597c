"""The built-in synthetic LID corpus: espeak-ng speech in many languages and varieties with
synthetic speakers, channels, phone alignments, as lhotse manifests and Kaldi data dirs.

Entry points: `sets.load_config(path, overrides)`, `generate.make_corpus(cfg, corpus_dir,
data_dir, sets=None, nj=1)`, `stats.corpus_stats(data_dirs, out_dir)`.
"""
