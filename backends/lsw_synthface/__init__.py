"""The embedded synthetic face world: generators synthface / synthface3d, its identity embedder and shape model."""
