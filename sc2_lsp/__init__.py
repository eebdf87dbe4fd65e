"""sc2-lsp: a local code-completion language server for StarCoder2 GGUF models."""

__version__ = "0.1.0"
