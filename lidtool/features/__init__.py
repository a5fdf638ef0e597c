"""lidtool.features: Kaldi-exact frame features and what is done to them.

extract   FeatureConfig, compute_features (mfcc, mfcc_pitch, fbank, logmel), log energy
config    reading Kaldi .conf / YAML option files
io        read_matrix / read_vector (NaN-checked), ArkScpWriter (atomic per-job ark/scp)
cmn       sliding_cmn (apply-cmvn-sliding)
vad       VadConfig, compute_vad (compute-vad)
pipeline  prepare_features: sliding CMN then voiced frames
reader    FeatureReader: prepared features of a data dir (feats.scp + vad.scp), frame counts
          from utt2num_frames / vad.scp; PreparedCache (bounded LRU)
perturb   speed / volume perturbation of data dirs
"""
