"""lidtool: Kaldi-style recipes for spoken language identification and embeddings."""

__version__ = "0.1.0"


def __getattr__(name):
    # lazily, so that `import lidtool` (every command) does not import torch
    if name == "Identifier":
        from lidtool.inference.identifier import Identifier
        return Identifier
    raise AttributeError(f"module 'lidtool' has no attribute '{name}'")
