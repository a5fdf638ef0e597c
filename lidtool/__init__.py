"""lidtool: Kaldi-style recipes for spoken language identification and embeddings."""

__version__ = "0.1.0"
