"""lidtool.ivector: the i-vector baseline (METHODS.md section 1).

gmm.py        diagonal / full-covariance GMMs, likelihoods with Gaussian selection, storage
ubm.py        UBM statistics, EM updates, initialisation by splitting, frame sampling
extractor.py  total-variability i-vector extractor: Baum-Welch stats, EM + min-divergence
feats.py      frames from feats.scp + vad.scp (sliding CMN, voiced frames), chunking
config.py     the system YAML (features / ubm / extractor / backend sections)
modelio.py    one-file .npz storage with kind + version; CheckpointError on bad files
"""
