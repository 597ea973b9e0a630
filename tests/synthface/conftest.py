"""Fixtures for the synthetic face world's tests: small generators, built once per session."""

from __future__ import annotations

import pytest
import torch

from lsw_synthface.generator import synthface, synthface3d


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def G2d():
    return synthface(resolution=64)


@pytest.fixture(scope="session")
def G3d():
    return synthface3d(resolution=64)
