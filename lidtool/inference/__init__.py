"""lidtool.inference: running a trained network (final.pt of lidtool train) on data.

scoring   forward_utterance, score_utterances, embed_utterances (whole utterances)
audio     features_from_audio: raw audio -> prepared features with the model's saved options
jobs      prepared_utterances (a JobUtterances: warns about short utterances), job_slice,
          and the per-job plumbing of infer / extract-embeddings (add_job_arguments, open_job)
checks    the model's feature dimension/type against the data, before any forward pass

The label list of a model is `info["classes"]` (as lidtool.train.checkpoint.load_model
returns it).
"""
