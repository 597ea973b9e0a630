"""Real faces available offline, for checking the embedder and measuring the fixed FFHQ crop:
scikit-image's `astronaut` photo, and FFHQ-aligned 1024-px faces rendered by the MobileStyleGAN of
the `random-face` wheel through OpenVINO (z → MappingNetwork → style → SynthesisNetwork → RGB in
about [-1, 1]). Nothing rendered is stored; a missing package raises `PluginError` naming it."""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util

import numpy as np

from lsw_core.errors import PluginError


def wheel_file(distribution: str, relative: str) -> str:
    """The path of a file shipped in an installed wheel, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise PluginError(f"{distribution} is not installed (pip install {distribution})") from exc
    path = dist.locate_file(relative)
    if not path.is_file():
        raise PluginError(f"{distribution} is installed but {relative} is missing from it")
    return str(path)


def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (Eileen Collins), RGB uint8 [512, 512, 3]."""
    if importlib.util.find_spec("skimage") is None:
        raise PluginError("scikit-image is not installed (pip install scikit-image)")
    from skimage import data

    return data.astronaut()


@functools.lru_cache(maxsize=1)
def _mobilestylegan(threads: int):
    if importlib.util.find_spec("openvino") is None:
        raise PluginError("openvino is not installed (pip install openvino)")
    import openvino

    core = openvino.Core()
    config = {"INFERENCE_NUM_THREADS": threads}
    nets = []
    for name in ("MappingNetwork", "SynthesisNetwork"):
        model = core.read_model(wheel_file("random-face", f"random_face/data/{name}.xml"))
        nets.append(core.compile_model(model, "CPU", config))
    mapping, synthesis = nets
    z = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    style_mean = np.mean([mapping(z[i : i + 1])[0] for i in range(len(z))], axis=0)
    return mapping, synthesis, style_mean


def mobilestylegan_faces(seeds: list[int], truncation: float = 0.7, threads: int = 1) -> np.ndarray:
    """FFHQ-aligned faces [N, 1024, 1024, 3] RGB uint8, one per seed (z ~ N(0, I) from that seed),
    the style truncated towards the mean style by `truncation`."""
    mapping, synthesis, style_mean = _mobilestylegan(threads)
    faces = []
    for seed in seeds:
        z = np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32)
        style = style_mean + truncation * (mapping(z)[0] - style_mean)
        rgb = synthesis(style.astype(np.float32))[0][0]
        faces.append(np.clip(np.round((rgb.transpose(1, 2, 0) + 1) * 127.5), 0, 255).astype(np.uint8))
    return np.stack(faces)
