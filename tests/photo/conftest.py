"""Fixtures of the photo tests: tiny generators (see `tiny.py`)."""

from __future__ import annotations

import pytest

from .tiny import TinyGenerator


def untrained_mixer(folder, plugin, backend: str, generator, **config):
    """Register `plugin` (which provides the `backend` generator) and write an untrained mixer for
    it into `folder` (its swaps differ from the target); yields the folder, then unregisters."""
    import lsw_core.plugins
    from lsw_core.mixing.mixer import LatentMixer

    pm = lsw_core.plugins.plugin_manager()
    pm.register(plugin, name=f"{backend}-test")
    mixer = LatentMixer(num_rows=generator.num_ws, w_dim=generator.w_dim)
    mixer.save_pretrained(folder, backend=backend, layout=generator.latent_layout, space="w+", **config)
    yield folder
    pm.unregister(plugin)


@pytest.fixture(scope="session")
def tiny_generator() -> TinyGenerator:
    return TinyGenerator().eval()


@pytest.fixture(scope="session")
def tiny_camera_generator() -> TinyGenerator:
    return TinyGenerator(camera=True).eval()
