"""Fixtures of the photo tests: tiny generators (see `tiny.py`)."""

from __future__ import annotations

import pytest

from .tiny import TinyGenerator


@pytest.fixture(scope="session")
def tiny_generator() -> TinyGenerator:
    return TinyGenerator().eval()


@pytest.fixture(scope="session")
def tiny_camera_generator() -> TinyGenerator:
    return TinyGenerator(camera=True).eval()
