"""Shared helpers for the StyleGAN2 backend tests. Fixtures are described in
tests/fixtures/stylegan2/README.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lsw_stylegan2.generator import StyleGAN2Generator
from lsw_stylegan2.loaders import build_generator

from .noise import fill_noise_const

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan2"


def fixture_generator(name: str) -> tuple[StyleGAN2Generator, dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(generator, init kwargs, full NVIDIA state dict, reference outputs) of fixture `name`."""
    init_kwargs = json.loads((FIXTURES / f"{name}.config.json").read_text())
    shapes = {k: tuple(v.shape) for k, v in StyleGAN2Generator(**init_kwargs).state_dict().items()}
    state = fill_noise_const(load_file(str(FIXTURES / f"{name}.model.safetensors")), shapes)
    G = build_generator(init_kwargs, state, source=name)
    return G, init_kwargs, state, load_file(str(FIXTURES / f"{name}.reference.safetensors"))


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)
