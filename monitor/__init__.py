"""leakmon: watch dark-web leak markets through Tor and track every listing's life."""

__version__ = "0.1.0"
