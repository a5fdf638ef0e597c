"""lidtool.asr: the phone recogniser behind the virtual-phoneme labels (METHODS.md sec. 2).

A GMM-HMM trained on one language, then used to phone-loop decode every LID utterance;
each frame's pdf-id is its label (ali.scp). Modules:
  lang        phone set, lexicon, L.fst (kaldifst)
  gmm         diagonal GMMs per pdf: likelihoods, Viterbi-EM statistics, update, mixing up
  tree        context tree: tree statistics, phone-clustering questions, greedy building
  model       AcousticModel = phones + tree + GMMs + self-loop probabilities; save/load
  graph       training / phone-loop graphs: compose_context + our HMM expansion; phone
              bigram ARPA -> G (kaldilm)
  decode      Viterbi with kaldi-decoder's FasterDecoder over a likelihood matrix
  train       monophone / triphone training loops, alignment conversion
  phone_loop  decoding graph + data-dir decoding to ali.scp / ali_phone.scp / phone_seq
  labels      int32 label archives, frame-count checks, merging of job outputs
  evaluate    frame accuracy vs true timings, phone error rate
  pipeline    experiment-dir steps behind the `lidtool asr-*` commands
  synthetic   a fake language (Gaussian "MFCC" phones) for tests
  bnf         bottleneck features: BnfModel (a trained network's final.pt), bnf data dirs
  bnf_train   the bnf network's training: its options as a config of the one trainer
Why not kaldi-hmm-gmm's TransitionModel/ContextDependency: they cannot hold a triphone
tree built in Python (no tree building, no ContextDependency constructor), so the
context-dependency and HMM expansion are ours; kaldifst, kaldilm and kaldi-decoder do
the graph algebra and search.
"""
