"""Registration: the only module lsw-core loads (entry point `example`)."""

from lsw_core import hookimpl
from lsw_example_backend.model import TinyEmbedder, TinyGenerator


@hookimpl
def register_generators(register):
    register("example-tiny", TinyGenerator.create, description="tiny style-based generator (example plugin)")


@hookimpl
def register_identity_embedders(register):
    register("example-embedder", TinyEmbedder.create, description="random-feature embedder (example plugin)")
