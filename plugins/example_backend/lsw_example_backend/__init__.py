"""An example lsw-core backend: a tiny style-based generator and an identity embedder."""
