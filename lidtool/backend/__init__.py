"""lidtool.backend: back-ends for utterance vectors (i-vectors, x-vectors, any embedding).

transforms.py   length normalisation, LDA (within-class floor), mean subtraction
classifiers.py  cosine to language means, multi-class logistic regression, Gaussian linear
model.py        Backend: a configured chain + classifier, fit / scores / save / load
config.py       the `backend:` YAML section
vectors.py      vector scp reading/writing (atomic ark+scp) and utt2lang labels
verification.py speaker verification: cosine, LDA + length norm + PLDA (plda.py), saved
trial_scoring.py  trial lists -> enrolment models -> scores, AS-norm (score_norm.py)
"""
