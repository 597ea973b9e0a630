"""Bad input through the real command line: every row is something a user (or a hostile file) can
hand `lsw`, and each must end in exit status 2, exactly one stderr line `error: ...` saying what was
expected, no traceback, and every file that existed before unchanged.

Rows run in-process through `lsw_core.cli.cli` in click's standalone mode, the same entry `lsw` calls
(`test_in_process_runs_match_the_lsw_console_script` checks a few against the console script). To add
a row: `Bad(id, "argv with {placeholders}", "expected substring", setup=...)`; placeholders are
`{mixer}` (a trained example-tiny mixer, 6×32 W+, 16 px, shared by the module), `{tmp}` (the row's
own folder), `{file}` (an existing file in it), `{ro}` (a folder nothing can be written in) and the
names of files the setup functions write into `{tmp}`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shlex
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import lsw_core.plugins
from lsw_stylegan2.loaders import CONFIG_F
from tests.conftest import TINY_TRAIN, interruptible, run_lsw, tiny_train_config

NUM_WS, W_DIM = 6, 32  # example-tiny's W+ layout


@dataclass(frozen=True)
class Bad:
    id: str
    argv: str
    expect: str
    setup: tuple[Callable[[Path], None], ...] = ()
    env: dict[str, str] = field(default_factory=dict)


# --- files the rows use (each written into the row's folder) ------------------------------------


def npy(name: str, array: np.ndarray) -> Callable[[Path], None]:
    return lambda tmp: np.save(tmp / name, array, allow_pickle=array.dtype == object)


def pt(name: str, obj: object) -> Callable[[Path], None]:
    return lambda tmp: torch.save(obj, tmp / name)


def raw(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_bytes(data)


def clip(name: str, frames: int = 3) -> Callable[[Path], None]:
    """A short mp4 of flat grey frames."""

    def write(tmp: Path) -> None:
        import av

        with av.open(str(tmp / name), "w") as container:
            stream = container.add_stream("mpeg4", rate=10)
            stream.width = stream.height = 32
            stream.pix_fmt = "yuv420p"
            for _ in range(frames):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 120, np.uint8), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    return write


def png_header(name: str, width: int, height: int) -> Callable[[Path], None]:
    """A PNG that declares `width`×`height` pixels in a few bytes (its data is a stub)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return raw(name, data)


def png(name: str, size: int = 16) -> Callable[[Path], None]:
    from PIL import Image

    return lambda tmp: Image.new("RGB", (size, size), (128, 90, 60)).save(tmp / name)


def stylegan2_file(name: str, **changes) -> Callable[[Path], None]:
    """A `.pt` holding StyleGAN2 init kwargs (FFHQ config with `changes`) and no weights: tiny on
    disk, whatever network it asks for."""
    kwargs = copy.deepcopy(CONFIG_F)
    for key, value in changes.items():
        group, _, sub = key.partition("__")
        (kwargs[group].__setitem__(sub, value) if sub else kwargs.__setitem__(group, value))
    return pt(name, {"init_kwargs": kwargs, "state_dict": {}})


def generator_folder(name: str, init_kwargs: dict) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        from safetensors.torch import save_file

        (tmp / name).mkdir()
        config = {"format": "lsw-generator", "backend": "stylegan2", "init_kwargs": init_kwargs}
        (tmp / name / "config.json").write_text(json.dumps(config))
        save_file({"x": torch.zeros(1)}, str(tmp / name / "model.safetensors"))

    return write


def synthface_net(name: str, config: dict) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(1)}, str(tmp / name), metadata={"config": json.dumps(config)})

    return write


def symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).symlink_to(tmp / target)


def hardlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda tmp: os.link(tmp / target, tmp / name)


def empty(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).parent.mkdir(parents=True, exist_ok=True) or (tmp / name).write_bytes(b"old")


def stride0(shape=(200_000, 200_000)) -> torch.Tensor:
    """One stored float viewed as `shape` (stride 0): 160 GB the first time anything copies it."""
    return torch.zeros(1).expand(*shape)


def authors_ckpt(name: str, *, tweak: Callable[[dict], None] = lambda ckpt: None) -> Callable[[Path], None]:
    """A small checkpoint of the LatentSwap authors' layout (2 W+ rows of width 4, no generator),
    as plain containers, changed by `tweak(ckpt)` before it is saved."""

    def write(tmp: Path) -> None:
        g = torch.Generator().manual_seed(0)
        state = {}
        for row in range(2):
            for i, (fan_in, fan_out) in enumerate([(8, 8), (8, 8), (8, 4), (4, 4), (4, 4)]):
                state[f"identity_mixer.mixer.{row}.{2 * i}.weight"] = torch.randn(fan_out, fan_in, generator=g)
                state[f"identity_mixer.mixer.{row}.{2 * i}.bias"] = torch.randn(fan_out, generator=g)
        ckpt = {"state_dict": state, "global_step": 3, "epoch": 1, "hyper_parameters": {"hp": {"latent_type": "wp"}}}
        tweak(ckpt)
        torch.save(ckpt, tmp / name)

    return write


def set_in(path: str, value) -> Callable[[dict], None]:
    """`tweak` for `authors_ckpt`: set the entry at the dotted `path` to `value`."""

    def tweak(ckpt: dict) -> None:
        *parents, last = path.split(".")
        node = ckpt
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return tweak


def nan_weight(ckpt: dict) -> None:
    ckpt["state_dict"]["identity_mixer.mixer.1.4.weight"][0, 0] = float("nan")


PLACEHOLDER = "lsw-placeholder-value"


#: `tweak` marking the hyper-parameters for `patch_pickle`, which puts raw pickle operations there.
MARK_HP = set_in("hyper_parameters", PLACEHOLDER)


def patch_pickle(name: str, ops: bytes) -> Callable[[Path], None]:
    """Replace the pickled PLACEHOLDER string in the torch zip `name` by the raw pickle `ops`: what
    no Python object could be saved as (200 000 levels deep, 10³⁰ references)."""

    def write(tmp: Path) -> None:
        import zipfile

        members = {}
        with zipfile.ZipFile(tmp / name) as archive:
            for info in archive.infolist():
                members[info.filename] = archive.read(info.filename)
        key = next(k for k in members if k.endswith("/data.pkl"))
        text = PLACEHOLDER.encode()
        pickled = b"X" + struct.pack("<I", len(text)) + text
        assert pickled in members[key]
        members[key] = members[key].replace(pickled, ops)
        with zipfile.ZipFile(tmp / name, "w", zipfile.ZIP_STORED) as archive:
            for filename, data in members.items():
                archive.writestr(filename, data)

    return write


def deep_list_ops(depth: int = 200_000) -> bytes:
    return b"]" * depth + b"a" * (depth - 1)


def laughing_list_ops(levels: int = 30, width: int = 10) -> bytes:
    """A list of `width` references to a list of `width` references to ... (`levels` deep)."""
    base = 1_000_000  # memo slots far from the ones torch.save used

    def slot(op: bytes, i: int) -> bytes:
        return op + struct.pack("<I", base + i)

    ops = b"]" + slot(b"r", 0)
    for level in range(1, levels + 1):  # POP the level below (kept in the memo), build the next
        ops += b"0](" + slot(b"j", level - 1) * width + b"e" + slot(b"r", level)
    return ops


def add_zip_member(name: str, member: str, size: int = 20 << 20) -> Callable[[Path], None]:
    """Add to the torch zip `name` a deflated member of `size` zero bytes (1000-fold compressed)."""

    def write(tmp: Path) -> None:
        import zipfile

        with zipfile.ZipFile(tmp / name, "a", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, b"\0" * size)

    return write


def npy_header(name: str, shape: tuple[int, ...], data: bytes = b"\0" * 64) -> Callable[[Path], None]:
    """A `.npy` whose header declares `shape` float32 over `data`."""

    def write(tmp: Path) -> None:
        with open(tmp / name, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
            f.write(data)

    return write


def safetensors_lie() -> bytes:
    """A safetensors file declaring a [200000, 200000] float tensor over 4 stored bytes."""
    header = json.dumps({"x": {"dtype": "F32", "shape": [200_000, 200_000], "data_offsets": [0, 4]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 4


def mixer_config(name: str, **changes) -> Callable[[Path], None]:
    """A mixer folder whose config.json is example-tiny's with `changes` (weights: one small tensor)."""

    def write(tmp: Path) -> None:
        from safetensors.torch import save_file

        (tmp / name).mkdir()
        config = {"format": "lsw-mixer", "backend": "example-tiny", "latent_space": "w+", "num_rows": NUM_WS,
                  "w_dim": W_DIM, "residual_coefficient": 1.0, "latent_layout": {"num_ws": NUM_WS, "w_dim": W_DIM},
                  **changes}  # fmt: skip
        (tmp / name / "config.json").write_text(json.dumps(config))
        save_file({"x": torch.zeros(1)}, str(tmp / name / "mixer.safetensors"))

    return write


def folder(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).mkdir()


def truncate(name: str, count: int) -> Callable[[Path], None]:
    """Cut the last `count` bytes off the file `name` (written by an earlier setup)."""
    return lambda tmp: (tmp / name).write_bytes((tmp / name).read_bytes()[:-count])


#: A YUV4MPEG2 stream (FFmpeg finds it by its content, whatever the name) declaring 132 MP frames.
Y4M_HUGE = b"YUV4MPEG2 W12000 H11000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000)


class CodeCarrying:
    """Pickled by reference: loading it would import and run this module's code."""


W = np.random.default_rng(0).standard_normal((1, NUM_WS, W_DIM)).astype(np.float32)
NAN = W.copy()
NAN[0, 2, 5] = np.nan
INF = W.copy()
INF[0, 0, 0] = np.inf
HUGE_RES = {"img_resolution": 1 << 20}  # the 1.4 KB file that once grew past 11.8 GB
WIDE = {"img_resolution": 4, "mapping_kwargs__num_layers": 64, "mapping_kwargs__layer_features": 4096}
SWAP = "swap seed:1 seed:2 --mixer {mixer} -o {tmp}/o.png"
PHOTOS = "swap {tmp}/face.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png"
CLIP = "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4"
TRAIN = "train -g example-tiny --mu 0 --out {tmp}/r"
PAIR = "swap {tmp}/face.png {tmp}/tgt.png --mixer {mixer} --aligned"
FACES = (png("face.png", 32), png("tgt.png", 32))
CLIP_SWAP = "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer}"
CONVERT = "convert {tmp}/a.ckpt {tmp}/out --from latentswap"
EDIT = "edit {tmp}/w.npy -g example-tiny -o {tmp}/e.png"
SRC = (npy("w.npy", W),)
FACE = (png("face.png"),)
CLIP_FILES = (png("face.png"), clip("clip.mp4"))

CASES = [
    # --- component options and plugins
    Bad("generator-option-typo", SWAP + " --generator-option foo=1", "unknown option 'foo' for generator"),
    Bad("generator-option-no-equals", SWAP + " --generator-option foo", "expected KEY=VALUE"),
    Bad("generator-checkpoint-not-taken", SWAP + " --checkpoint {file}", "takes no checkpoint"),
    Bad("unknown-generator", SWAP + " --generator nosuch", "unknown generator 'nosuch'"),
    Bad("train-generator-option-typo", "train -g example-tiny --generator-option sed=1 --out {tmp}/r", "'sed'"),
    Bad("train-embedder-option-typo", "train -g example-tiny --mu 0 --embedder example-embedder --embedder-option x=1 "
        "--out {tmp}/r", "unknown option 'x' for identity embedder"),  # fmt: skip
    Bad("eval-embedder-option-typo", "eval --mixer {mixer} --embedder example-embedder --embedder-option x=1",
        "unknown option 'x'"),  # fmt: skip
    Bad("unknown-command", "nosuch", "No such command"),
    # --- seeds
    Bad("seed-empty", "swap seed: seed:2 --mixer {mixer} -o {tmp}/o.png", "expected seed:N"),
    Bad("seed-only-commas", "swap seed:1 seed:, --mixer {mixer} -o {tmp}/o.png", "expected seed:N"),
    Bad("seed-overflow", "swap seed:1180591620717411303424 seed:2 --mixer {mixer} -o {tmp}/o.png", "from 0 to"),
    Bad("seed-negative", "swap seed:-1 seed:2 --mixer {mixer} -o {tmp}/o.png", "whole numbers"),
    Bad("seed-float", "swap seed:1.5 seed:2 --mixer {mixer} -o {tmp}/o.png", "whole numbers"),
    Bad("seed-word", "swap seed:one seed:2 --mixer {mixer} -o {tmp}/o.png", "expected seed:N"),
    # --- latents files
    Bad("latents-nan", SWAP.replace("seed:1", "{tmp}/w.npy"), "NaN/inf", (npy("w.npy", NAN),)),
    Bad("latents-inf", SWAP.replace("seed:2", "{tmp}/w.npy"), "NaN/inf", (npy("w.npy", INF),)),
    Bad("latents-int64", SWAP.replace("seed:1", "{tmp}/w.npy"), "dtype int64", (npy("w.npy", W.astype(np.int64)),)),
    Bad("latents-bool", SWAP.replace("seed:1", "{tmp}/w.npy"), "dtype bool", (npy("w.npy", W > 0),)),
    Bad("latents-object", SWAP.replace("seed:1", "{tmp}/w.npy"), "not Python objects",
        (npy("w.npy", np.array([{"w": 1}], dtype=object)),)),  # fmt: skip
    Bad("latents-strings", SWAP.replace("seed:1", "{tmp}/w.npy"), "dtype <U", (npy("w.npy", np.array(["a", "b"])),)),
    Bad("latents-wrong-layout", SWAP.replace("seed:1", "{tmp}/w.npy"), "shape [B, 6, 32], got [1, 18, 512]",
        (npy("w.npy", np.zeros((1, 18, 512), np.float32)),)),  # fmt: skip
    Bad("latents-1d", SWAP.replace("seed:1", "{tmp}/w.npy"), "got [32]", (npy("w.npy", np.zeros(32, np.float32)),)),
    Bad("latents-empty-batch", SWAP.replace("seed:1", "{tmp}/w.npy"), "empty batch",
        (npy("w.npy", np.zeros((0, NUM_WS, W_DIM), np.float32)),)),  # fmt: skip
    Bad("latents-not-npy", SWAP.replace("seed:1", "{tmp}/w.npy"), "not a readable .npy", (raw("w.npy", b"hello"),)),
    Bad("latents-pt-nan", SWAP.replace("seed:1", "{tmp}/w.pt"), "NaN/inf", (pt("w.pt", torch.from_numpy(NAN)),)),
    Bad("latents-pt-dict", SWAP.replace("seed:1", "{tmp}/w.pt"), "expected one tensor", (pt("w.pt", {"w": 1}),)),
    Bad("latents-pt-code", SWAP.replace("seed:1", "{tmp}/w.pt"), "would have to run code",
        (pt("w.pt", {"w": CodeCarrying()}),)),  # fmt: skip
    Bad("latents-pt-garbage", SWAP.replace("seed:1", "{tmp}/w.pt"), "truncated, corrupt", (raw("w.pt", b"\x80\x02}q"),)),
    Bad("input-missing", SWAP.replace("seed:1", "{tmp}/nope.npy"), "no such file or folder"),
    # --- swap settings
    Bad("views-zero", SWAP + " --views 0", "'--views': 0 is not in the range x>=1"),
    Bad("views-negative", SWAP + " --views -2", "x>=1"),
    Bad("views-on-2d", SWAP + " --views 3", "needs a camera-aware generator"),
    Bad("strength-above-one", SWAP + " --strength 1.5", "'--strength': 1.5 is not in the range 0<=x<=1"),
    Bad("strength-negative", SWAP + " --strength -0.1", "0<=x<=1"),
    Bad("strength-nan", SWAP + " --strength nan", "'--strength': 'nan' is not a finite number"),
    Bad("groups-unknown", SWAP + " --groups eyes", "unknown layer group"),
    Bad("groups-empty-names", SWAP + " --groups ,", "unknown layer group"),
    Bad("mixer-not-a-folder", "swap seed:1 seed:2 --mixer {tmp} -o {tmp}/o.png", "not a mixer folder"),
    # --- output paths, checked before any work
    Bad("out-under-a-file", "swap seed:1 seed:2 --mixer {mixer} -o {file}/o.png", "is a file, not a folder"),
    Bad("out-in-proc", "swap seed:1 seed:2 --mixer {mixer} -o /proc/lsw-out.png", "cannot write"),
    Bad("out-read-only", "swap seed:1 seed:2 --mixer {mixer} -o {ro}/o.png", "cannot write"),
    Bad("out-deep-under-a-file", "swap seed:1 seed:2 --mixer {mixer} -o {file}/a/b/o.png", "is a file"),
    Bad("eval-out-under-a-file", "eval --mixer {mixer} --out {file}/m.json", "is a file, not a folder"),
    Bad("eval-table-in-proc", "eval --triples {tmp} --table /proc/lsw.md", "cannot write"),
    Bad("edit-out-in-proc", EDIT.replace("{tmp}/e.png", "/proc/e.png") + " --ganspace 0", "cannot write", SRC),
    Bad("convert-dst-under-a-file", "convert {file} {file}/g -g stylegan2", "is a file, not a folder"),
    Bad("train-out-in-proc", "train -g example-tiny --out /proc/lsw-run", "cannot write"),
    Bad("train-out-read-only", "train -g example-tiny --out {ro}/run", "cannot write"),
    Bad("train-calibration-batches-zero", "train -g example-tiny --mu 0 --calibration-batches 0 --out {tmp}/r",
        "calibration_batches: expected an integer > 0"),  # fmt: skip
    Bad("train-keep-centre-above-one", "train -g example-tiny --mu 0 --keep-centre 2 --out {tmp}/r",
        "'--keep-centre': 2.0 is not in the range 0<=x<=1"),  # fmt: skip
    Bad("train-keep-power-below-one", "train -g example-tiny --mu 0 --keep-power 0.5 --out {tmp}/r",
        "'--keep-power': 0.5 is not in the range x>=1"),  # fmt: skip
    Bad("train-contrast-weight-negative", "train -g example-tiny --mu 0 --contrast-weight -1 --out {tmp}/r",
        "'--contrast-weight': -1.0 is not in the range x>=0"),  # fmt: skip
    Bad("train-recipe-unknown", "train -g example-tiny --mu 0 --recipe nope --out {tmp}/r",
        "Invalid value for '--recipe': 'nope' is not one of 'paper', 'real-embedder'"),  # fmt: skip
    Bad("train-ema-decay-one", "train -g example-tiny --mu 0 --ema-decay 1 --out {tmp}/r",
        "'--ema-decay': 1.0 is not in the range 0<=x<1"),  # fmt: skip
    Bad("train-keep-weight-negative", "train -g example-tiny --mu 0 --keep-weight -1 --out {tmp}/r",
        "'--keep-weight': -1.0 is not in the range x>=0"),  # fmt: skip
    Bad("demo-out-under-a-file", "demo --out {file}/demo", "is a file, not a folder"),
    Bad("encoder-out-in-proc", "encoder train -g example-tiny -o /proc/e.safetensors", "cannot write"),
    # --- eval
    Bad("eval-pairs-zero", "eval --mixer {mixer} --pairs 0", "'--pairs': 0 is not in the range x>=2"),
    Bad("eval-pairs-negative", "eval --mixer {mixer} --pairs -3", "x>=2"),
    Bad("eval-pairs-word", "eval --mixer {mixer} --pairs many", "not a valid integer"),
    Bad("eval-no-mixer", "eval", "pass exactly one of --mixer and --triples"),
    Bad("eval-unknown-embedder", "eval --mixer {mixer} --embedder nosuch", "unknown identity embedder 'nosuch'"),
    # --- edit
    Bad("edit-latents-nan", EDIT + " --ganspace 0", "NaN/inf", (npy("w.npy", NAN),)),
    Bad("edit-latents-object", EDIT + " --ganspace 0", "not Python objects",
        (npy("w.npy", np.array([None], dtype=object)),)),  # fmt: skip
    Bad("edit-strengths-words", EDIT + " --ganspace 0 --strengths a,b", "finite numbers", SRC),
    Bad("edit-strengths-nan", EDIT + " --ganspace 0 --strengths 0,nan", "finite numbers", SRC),
    Bad("edit-ganspace-negative", EDIT + " --ganspace -1", "x>=0", SRC),
    Bad("edit-ganspace-too-large", EDIT + " --ganspace 99", "has 32 components", SRC),
    Bad("edit-direction-nan", EDIT + " --direction {tmp}/d.npy", "finite, non-zero",
        SRC + (npy("d.npy", np.full(W_DIM, np.nan, np.float32)),)),  # fmt: skip
    Bad("edit-direction-zero", EDIT + " --direction {tmp}/d.npy", "finite, non-zero",
        SRC + (npy("d.npy", np.zeros(W_DIM, np.float32)),)),  # fmt: skip
    Bad("edit-no-direction", EDIT, "exactly one of --direction", SRC),
    Bad("edit-groups-unknown", EDIT + " --ganspace 0 --groups eyes", "unknown layer group", SRC),
    # --- photos
    Bad("photo-decompression-bomb", "swap {tmp}/big.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png",
        "refused: larger than 120 megapixels", (png_header("big.png", 14000, 14000), png("face.png"))),  # fmt: skip
    Bad("photo-over-the-limit", "swap {tmp}/face.png {tmp}/big.png --mixer {mixer} -o {tmp}/o.png",
        "12000×11000 pixels is more than 120", (png_header("big.png", 12000, 11000), png("face.png"))),  # fmt: skip
    Bad("photo-corrupt", "swap {tmp}/bad.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png", "not a readable image",
        (raw("bad.png", b"\x89PNG\r\n\x1a\nnot really"), png("face.png"))),  # fmt: skip
    Bad("photo-and-seed", "swap {tmp}/face.png seed:1 --mixer {mixer} -o {tmp}/o.png", "swap pairwise",
        (png("face.png"),)),  # fmt: skip
    Bad("photo-unknown-inverter", "swap {tmp}/face.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png --inverter "
        "nosuch", "unknown inverter 'nosuch'", (png("face.png"),)),  # fmt: skip
    Bad("photo-reference-without-a-face", "swap {tmp}/face.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png "
        "--reference-face {tmp}/plain.png", "plain.png: ", (png("face.png"), png("plain.png", 64))),  # fmt: skip
    Bad("photo-reference-threshold-out-of-range", "swap {tmp}/face.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png "
        "--reference-face {tmp}/face.png --reference-threshold 1.5", "-1<=x<=1", (png("face.png"),)),  # fmt: skip
    Bad("photo-target-face-word", "swap {tmp}/face.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png --target-face "
        "some", "expected a face number", (png("face.png"),)),  # fmt: skip
    # --- videos
    Bad("video-not-a-video", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4",
        "not a readable video", (png("face.png"), raw("clip.mp4", b"not a video at all"))),  # fmt: skip
    Bad("video-unknown-codec", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4 --codec nosuch",
        "not a video encoder", (png("face.png"), clip("clip.mp4"))),  # fmt: skip
    Bad("video-audio-codec", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4 --codec aac",
        "not a video one", (png("face.png"), clip("clip.mp4"))),  # fmt: skip
    Bad("video-out-read-only", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {ro}/o.mp4", "cannot write",
        (png("face.png"), clip("clip.mp4"))),  # fmt: skip
    Bad("video-out-not-a-video", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.png",
        "writes a video file", (png("face.png"), clip("clip.mp4"))),  # fmt: skip
    Bad("video-end-before-start", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4 --start 2 "
        "--end 1", "must come after --start", (png("face.png"), clip("clip.mp4"))),  # fmt: skip
    Bad("video-group-faces", "swap {tmp}/face.png {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4 --target-face all",
        "videos swap one tracked face", (png("face.png"), clip("clip.mp4"))),  # fmt: skip
    Bad("video-source-folder", "swap {tmp} {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4", "one source photo or aligned crop, not a folder",
        (clip("clip.mp4"),)),  # fmt: skip
    # --- crafted and refused checkpoint files
    Bad("stylegan2-huge-resolution", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "img_resolution: expected 4 to 4096",
        (stylegan2_file("h.pt", **HUGE_RES),)),  # fmt: skip
    Bad("stylegan2-huge-resolution-checkpoint", SWAP + " -g stylegan2 --checkpoint {tmp}/h.pt", "found 1048576",
        (stylegan2_file("h.pt", **HUGE_RES),)),  # fmt: skip
    Bad("stylegan2-too-many-parameters", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "M values; refused",
        (stylegan2_file("h.pt", **WIDE),)),  # fmt: skip
    Bad("stylegan2-resolution-not-power-of-two", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "a power of two",
        (stylegan2_file("h.pt", img_resolution=1000),)),  # fmt: skip
    Bad("stylegan2-channels-out-of-range", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "channel_max: expected 1",
        (stylegan2_file("h.pt", synthesis_kwargs__channel_max=10**9),)),  # fmt: skip
    Bad("stylegan2-width-not-a-number", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "w_dim: expected a whole",
        (stylegan2_file("h.pt", w_dim="512"),)),  # fmt: skip
    Bad("stylegan2-folder-huge", "convert {tmp}/g {tmp}/out -g stylegan2", "img_resolution",
        (generator_folder("g", {"z_dim": 512, "w_dim": 512, "img_resolution": 1 << 20}),)),  # fmt: skip
    Bad("stylegan2-folder-no-kwargs", "convert {tmp}/g {tmp}/out -g stylegan2", "expected 'init_kwargs'",
        (generator_folder("g", None),)),  # fmt: skip
    Bad("stylegan2-code-carrying", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "would have to run code",
        (pt("h.pt", {"init_kwargs": {}, "state_dict": {}, "x": CodeCarrying()}),)),  # fmt: skip
    Bad("stylegan2-truncated", "convert {tmp}/h.pt {tmp}/out -g stylegan2", "truncated, corrupt",
        (raw("h.pt", b"PK\x03\x04broken"),)),  # fmt: skip
    Bad("stylenerf-huge-resolution", "convert {tmp}/h.pt {tmp}/out -g stylenerf", "img_resolution: expected 64",
        (pt("h.pt", {"init_kwargs": {"z_dim": 512, "w_dim": 512, "img_resolution": 1 << 20, "synthesis_kwargs": {}},
                     "state_dict": {}}),)),  # fmt: skip
    Bad("synthface-net-huge", "eval --mixer {mixer} --embedder synthface-id --embedder-checkpoint {tmp}/n.safetensors",
        "widths: expected 1 to 4096", (synthface_net("n.safetensors", {"dim": 8, "backbone": {"widths": [10**7]}}),)),
    # --- one output check for every command that writes (lsw_core.outputs), before any work
    Bad("out-exists", SWAP, "o.png: exists; pass --overwrite", (empty("o.png"),)),
    Bad("out-symlink", SWAP + " --overwrite", "is a symbolic link", (symlink("o.png", "existing.txt"),)),
    Bad("out-dangling-symlink", SWAP, "is a symbolic link", (symlink("o.png", "nowhere.png"),)),
    Bad("out-suffix-unknown", SWAP.replace("o.png", "o.xyz"), "the suffix '.xyz' is not a format"),
    Bad("out-no-suffix", SWAP.replace("o.png", "o"), "no suffix is not a format"),
    Bad("out-npy-is-for-codes", SWAP.replace("o.png", "w.npy") + " --save-latents", "OUT is the image"),
    Bad("out-npy-without-save-latents", SWAP.replace("o.png", "w.npy"), "OUT is the image"),
    Bad("out-latents-exist", SWAP + " --save-latents", "o.npy: exists", (empty("o.npy"),)),
    Bad("save-latents-over-the-input-codes", "swap {tmp}/codes.npy seed:2 --mixer {mixer} -o {tmp}/codes.png "
        "--save-latents --overwrite", "is an input of this command", (npy("codes.npy", W),)),  # fmt: skip
    Bad("out-is-the-input-codes-by-hardlink", "swap {tmp}/codes.npy seed:2 --mixer {mixer} -o {tmp}/o.png "
        "--save-latents --overwrite", "is an input of this command",
        (npy("codes.npy", W), hardlink("o.npy", "codes.npy"))),  # fmt: skip
    Bad("photo-out-is-the-target", PAIR + " -o {tmp}/tgt.png --overwrite", "is an input of this command", FACES),
    Bad("photo-out-is-the-source-by-hardlink", PAIR + " -o {tmp}/o.png --overwrite", "is an input of this command",
        FACES + (hardlink("o.png", "face.png"),)),  # fmt: skip
    Bad("photo-out-symlink-to-the-target", PAIR + " -o {tmp}/o.png --overwrite", "is a symbolic link",
        FACES + (symlink("o.png", "tgt.png"),)),  # fmt: skip
    Bad("photo-aligned-name-exists", "swap {tmp}/face.png {tmp}/tgt.png --mixer {mixer} -o {tmp}/o.png",
        "o_aligned.png: exists", FACES + (empty("o_aligned.png"),)),  # fmt: skip
    Bad("photo-aligned-name-is-an-input", "swap {tmp}/o_aligned.png {tmp}/tgt.png --mixer {mixer} -o {tmp}/o.png "
        "--overwrite", "o_aligned.png: is an input", (png("o_aligned.png", 32), png("tgt.png", 32))),  # fmt: skip
    Bad("photo-face-names-exist", "swap {tmp}/face.png {tmp}/tgt.png --mixer {mixer} -o {tmp}/o.png --target-face "
        "all", "o_face3_aligned.png: exists", FACES + (empty("o_face3_aligned.png"),)),  # fmt: skip
    Bad("photo-record-exists", PAIR + " -o {tmp}/o.png --save-latents", "o.swap.safetensors: exists",
        FACES + (empty("o.swap.safetensors"),)),  # fmt: skip
    Bad("photo-views-name-exists", PAIR + " -o {tmp}/o.png --views 2", "o_views.gif: exists",
        FACES + (empty("o_views.gif"),)),  # fmt: skip
    Bad("photo-suffix-unknown", PAIR + " -o {tmp}/o.xyz", "the suffix '.xyz' is not a format", FACES),
    Bad("photo-folder-pair-exists", "swap {tmp}/face.png {tmp}/in --mixer {mixer} --aligned -o {tmp}/out",
        "face__u.png: exists", (png("face.png", 32), empty("in/x"), png("in/u.png", 32), empty("out/face__u.png"))),
    Bad("photo-cache-dir-is-a-file", PAIR + " -o {tmp}/o.png --cache-dir {file}", "is a file", FACES),
    Bad("photo-cache-dir-under-a-file", PAIR + " -o {tmp}/o.png --cache-dir {file}/cache",
        "existing.txt/cache: cannot create the output folder", FACES),  # fmt: skip
    Bad("video-out-exists", CLIP_SWAP + " -o {tmp}/o.mp4", "o.mp4: exists", CLIP_FILES + (empty("o.mp4"),)),
    Bad("video-out-is-the-target", CLIP_SWAP + " -o {tmp}/clip.mp4 --overwrite", "is an input of this command", CLIP_FILES),
    Bad("video-out-symlink", CLIP_SWAP + " -o {tmp}/o.mp4 --overwrite", "is a symbolic link",
        CLIP_FILES + (symlink("o.mp4", "clip.mp4"),)),  # fmt: skip
    Bad("video-codes-exist", CLIP_SWAP + " -o {tmp}/o.mp4 --save-latents", "o.npy: exists", CLIP_FILES + (empty("o.npy"),)),
    Bad("edit-out-exists", EDIT + " --ganspace 0", "e.png: exists", SRC + (empty("e.png"),)),
    Bad("edit-gif-exists", EDIT + " --ganspace 0", "e.gif: exists", SRC + (empty("e.gif"),)),
    Bad("edit-out-suffix", EDIT.replace("e.png", "e.npy") + " --ganspace 0", "the suffix '.npy' is not a format", SRC),
    Bad("edit-out-symlink", EDIT + " --ganspace 0 --overwrite", "is a symbolic link", SRC + (symlink("e.png", "w.npy"),)),
    Bad("convert-dst-holds-a-conversion", "convert {tmp}/h.pt {tmp}/g -g stylegan2", "config.json: exists",
        (stylegan2_file("h.pt"), empty("g/config.json"))),  # fmt: skip
    Bad("convert-into-its-source", "convert {tmp}/g {tmp}/g -g stylegan2 --overwrite", "is an input of this command",
        (generator_folder("g", {"z_dim": 8}),)),  # fmt: skip
    Bad("convert-latentswap-dst-holds-a-mixer", CONVERT, "mixer.safetensors: exists",
        (authors_ckpt("a.ckpt"), empty("out/mixer.safetensors"))),  # fmt: skip
    Bad("encoder-out-exists", "encoder train -g example-tiny -o {tmp}/e.safetensors", "exists",
        (empty("e.safetensors"),)),  # fmt: skip
    Bad("encoder-out-suffix", "encoder train -g example-tiny -o {tmp}/e.pt", "expected .safetensors"),
    Bad("eval-out-exists", "eval --mixer {mixer} --out {tmp}/m.json", "m.json: exists", (empty("m.json"),)),
    Bad("eval-out-is-the-mixer-config", "eval --mixer {mixer} --out {mixer}/config.json --overwrite",
        "is an input of this command"),  # fmt: skip
    Bad("eval-out-suffix", "eval --mixer {mixer} --out {tmp}/m.txt", "expected .json"),
    Bad("demo-grid-exists", "demo --out {tmp}/d", "grid.png: exists", (empty("d/grid.png"),)),
    # --- crafted containers: declared sizes must fit the stored bytes; bounded nesting and references
    Bad("latents-pt-stride-0", SWAP.replace("seed:1", "{tmp}/w.pt"), "declares 40,000,000,000 values",
        (pt("w.pt", stride0()),)),  # fmt: skip
    Bad("latents-pt-overlapping-rows", SWAP.replace("seed:1", "{tmp}/w.pt"), "over a storage of 32",
        (pt("w.pt", torch.zeros(W_DIM).expand(10_000, NUM_WS, W_DIM)),)),  # fmt: skip
    Bad("latents-pt-zip-bomb", SWAP.replace("seed:1", "{tmp}/w.pt"), "would expand",
        (pt("w.pt", torch.from_numpy(W)), add_zip_member("w.pt", "w/extra"))),  # fmt: skip
    Bad("latents-pt-deep-nesting", SWAP.replace("seed:1", "{tmp}/w.pt"), "nested more than 100 levels",
        (authors_ckpt("w.pt", tweak=MARK_HP), patch_pickle("w.pt", deep_list_ops()))),  # fmt: skip
    Bad("latents-npy-header-larger-than-the-file", SWAP.replace("seed:1", "{tmp}/w.npy"), "truncated: its header declares float32 [1000000000, 6, 32]",
        (npy_header("w.npy", (10**9, NUM_WS, W_DIM)),)),  # fmt: skip
    Bad("latents-npy-truncated", SWAP.replace("seed:1", "{tmp}/w.npy"), "(768 bytes of data), the file holds 64",
        (npy_header("w.npy", (1, NUM_WS, W_DIM)),)),  # fmt: skip
    Bad("lightning-stride-0", CONVERT, "declares 40,000,000,000 values",
        (authors_ckpt("a.ckpt", tweak=set_in("state_dict.identity_mixer.mixer.0.0.weight", stride0())),)),
    Bad("lightning-zip-bomb", CONVERT, "would expand", (authors_ckpt("a.ckpt"), add_zip_member("a.ckpt", "a/extra"))),
    Bad("lightning-deep-hyper-parameters", CONVERT, "nested more than 100 levels",
        (authors_ckpt("a.ckpt", tweak=MARK_HP), patch_pickle("a.ckpt", deep_list_ops()))),  # fmt: skip
    Bad("lightning-billion-laughs", CONVERT, "more than 2,000,000 references",
        (authors_ckpt("a.ckpt", tweak=MARK_HP), patch_pickle("a.ckpt", laughing_list_ops()))),  # fmt: skip
    Bad("lightning-residual-coefficient-word", CONVERT,
        "hyper_parameters.identity_mixer.residual_coefficient: expected a finite number, got 'abc'",
        (authors_ckpt("a.ckpt", tweak=set_in("hyper_parameters.hp.identity_mixer.residual_coefficient", "abc")),)),
    Bad("lightning-identity-mixer-list", CONVERT, "hyper_parameters.identity_mixer: expected an object, got []",
        (authors_ckpt("a.ckpt", tweak=set_in("hyper_parameters.hp.identity_mixer", [])),)),  # fmt: skip
    Bad("lightning-global-step-word", CONVERT, "global_step: expected an integer >= 0, got 'abc'",
        (authors_ckpt("a.ckpt", tweak=set_in("global_step", "abc")),)),  # fmt: skip
    Bad("lightning-latent-type-number", CONVERT, "hyper_parameters.latent_type: expected 'wp', 'w' or 'z', got 3",
        (authors_ckpt("a.ckpt", tweak=set_in("hyper_parameters.hp.latent_type", 3)),)),  # fmt: skip
    Bad("lightning-too-many-rows", CONVERT, "M values; refused",
        (authors_ckpt("a.ckpt", tweak=lambda c: c["state_dict"].update({
            f"identity_mixer.mixer.{r}.{2 * i}.{k}": torch.zeros(1) for r in range(2, 200) for i in range(5)
            for k in ("weight", "bias")} | {"identity_mixer.mixer.0.0.weight": torch.zeros(1, 4096)})),)),
    Bad("netpickle-stride-0", "convert {tmp}/g.pkl {tmp}/out -g stylegan2", "declares 40,000,000,000 values",
        (raw("g.pkl", __import__("pickle").dumps({"G_ema": stride0()}, protocol=4)),)),  # fmt: skip
    Bad("mixer-config-200-rows-of-2048", "swap seed:1 seed:2 --mixer {tmp}/m -o {tmp}/o.png", "M values; refused",
        (mixer_config("m", num_rows=200, w_dim=2048, latent_layout={"num_ws": 200, "w_dim": 2048}),)),  # fmt: skip
    Bad("mixer-weights-declare-more-than-stored", "swap seed:1 seed:2 --mixer {tmp}/m -o {tmp}/o.png",
        "damaged or crafted", (mixer_config("m"), raw("m/mixer.safetensors", safetensors_lie()))),  # fmt: skip
    # --- weights are finite before any file is written
    Bad("lightning-nan-weights", CONVERT, "NaN or infinite weights in identity_mixer.mixer.1.4.weight (1 of 32); "
        "nothing was written", (authors_ckpt("a.ckpt", tweak=nan_weight),)),  # fmt: skip
    Bad("synthface-net-damaged", "eval --mixer {mixer} --embedder synthface-id --embedder-checkpoint {tmp}/n.safetensors",
        "damaged synthface network config", (synthface_net("n.safetensors", {"dim": 8}),)),  # fmt: skip
    # --- float options: NaN and inf refused when parsed, ranges from the settings classes
    Bad("feather-nan", PHOTOS + " --feather nan", "'--feather': 'nan' is not a finite number", FACE),
    Bad("feather-inf", PHOTOS + " --feather inf", "'--feather': 'inf' is not a finite number", FACE),
    Bad("feather-negative", PHOTOS + " --feather -0.1", "-0.1 is not in the range 0<=x<=0.5", FACE),
    Bad("photo-strength-nan", PHOTOS + " --strength nan", "'--strength': 'nan' is not a finite number", FACE),
    Bad("reference-threshold-nan", PHOTOS + " --reference-face {tmp}/face.png --reference-threshold nan",
        "'--reference-threshold': 'nan' is not a finite number", FACE),
    Bad("occlusion-threshold-inf", PHOTOS + " --occlusion-mask --occlusion-threshold inf", "'inf' is not a finite",
        FACE),
    Bad("train-lr-nan", TRAIN + " --lr nan", "'--lr': 'nan' is not a finite number"),
    Bad("train-lr-zero", TRAIN + " --lr 0", "'--lr': 0.0 is not in the range x>0"),
    Bad("train-lambda-inf", TRAIN + " --lambda inf", "'--lambda': 'inf' is not a finite number"),
    Bad("train-mu-nan", "train -g example-tiny --mu nan --out {tmp}/r", "'--mu': 'nan' is not a finite number"),
    Bad("train-psi-nan", TRAIN + " --psi nan", "'--psi': 'nan' is not a finite number"),
    Bad("train-minutes-inf", TRAIN + " --minutes inf", "'--minutes': 'inf' is not a finite number"),
    Bad("train-minutes-negative", TRAIN + " --minutes -1", "-1.0 is not in the range x>0"),
    Bad("train-gate-init-nan", TRAIN + " --mixer-kind gated --gate-init nan", "'--gate-init': 'nan' is not a finite"),
    Bad("train-extra-embedder-nan", TRAIN + " --extra-embedder example-embedder=nan",
        "expected NAME=WEIGHT with a finite weight >= 0, got 'example-embedder=nan'"),
    Bad("train-extra-embedder-negative", TRAIN + " --extra-embedder example-embedder=-1", "finite weight >= 0"),
    Bad("demo-minutes-nan", "demo --out {tmp}/d --minutes nan", "'--minutes': 'nan' is not a finite number"),
    Bad("demo-pairs-zero", "demo --out {tmp}/d --pairs 0", "'--pairs': 0 is not in the range x>=2"),
    Bad("demo-pairs-one", "demo --out {tmp}/d --pairs 1", "'--pairs': 1 is not in the range x>=2"),
    Bad("encoder-psi-min-nan", "encoder train -g example-tiny -o {tmp}/e.safetensors --psi-min nan",
        "'--psi-min': 'nan' is not a finite number"),
    Bad("encoder-psi-min-above-one", "encoder train -g example-tiny -o {tmp}/e.safetensors --psi-min 2",
        "2.0 is not in the range 0<=x<=1"),
    Bad("encoder-minutes-inf", "encoder train -g example-tiny -o {tmp}/e.safetensors --minutes inf",
        "'--minutes': 'inf' is not a finite number"),
    Bad("generator-option-nan", SWAP + " --generator-option truncation=NaN", "option 'truncation=NaN': expected a "
        "finite number"),
    Bad("generator-option-overflow", SWAP + " --generator-option x=1e999", "expected a finite number"),
    Bad("generator-option-twice", SWAP + " --generator-option x=1 --generator-option x=2",
        "x is already given; give each key once"),
    Bad("video-start-nan", CLIP + " --start nan", "'--start': 'nan' is not a finite number", CLIP_FILES),
    Bad("video-start-inf", CLIP + " --start inf", "'--start': 'inf' is not a finite number", CLIP_FILES),
    Bad("video-end-nan", CLIP + " --end nan", "'--end': 'nan' is not a finite number", CLIP_FILES),
    Bad("video-end-inf", CLIP + " --end inf", "'--end': 'inf' is not a finite number", CLIP_FILES),
    # --- options that have no effect with the others given
    Bad("reference-threshold-without-reference", PHOTOS + " --reference-threshold 0.5",
        "--reference-threshold has no effect without --reference-face", FACE),
    Bad("embedder-without-reference", PHOTOS + " --embedder example-embedder",
        "--embedder has no effect without --reference-face", FACE),
    Bad("occlusion-threshold-without-mask", PHOTOS + " --occlusion-threshold 4",
        "--occlusion-threshold has no effect without --occlusion-mask", FACE),
    Bad("cache-dir-with-no-cache", PHOTOS + " --no-cache --cache-dir {tmp}/c", "--cache-dir has no effect with "
        "--no-cache", FACE),
    Bad("aligner-with-aligned", PHOTOS + " --aligned --aligner dlib-ffhq", "--aligner has no effect with --aligned",
        FACE),
    Bad("video-option-on-photos", PHOTOS + " --tune-frames 2", "--tune-frames has no effect without a clip as TARGET",
        FACE),
    Bad("photo-option-on-seeds", SWAP + " --feather 0.2", "--feather has no effect on seed: or latents inputs"),
    Bad("inverter-on-seeds", SWAP + " --inverter pti", "--inverter has no effect on seed: or latents inputs"),
    Bad("views-on-a-clip", CLIP + " --views 3", "--views has no effect on a clip", CLIP_FILES),
    Bad("train-gate-init-paper-mixer", TRAIN + " --gate-init 0.3", "--gate-init has no effect without --mixer-kind "
        "gated"),
    Bad("train-id-views-paper-loss", TRAIN + " --id-views 3", "--id-views has no effect without --identity-loss "
        "augmented"),
    Bad("train-keep-centre-without-keep", TRAIN + " --keep-centre 0.5", "--keep-centre has no effect without "
        "--keep-weight > 0"),
    Bad("train-contrast-margin-without-contrast", TRAIN + " --contrast-margin 0.5", "--contrast-margin has no effect"),
    Bad("train-two-recipes", TRAIN + " --recipe paper --recipe real-embedder", "--recipe given more than once"),
    Bad("swap-out-twice", SWAP + " -o {tmp}/p.png", "--out/-o given more than once"),
    Bad("encoder-out-twice", "encoder train -g example-tiny -o {tmp}/a.safetensors -o {tmp}/b.safetensors",
        "--out/-o given more than once"),
    Bad("eval-table-without-triples", "eval --mixer {mixer} --table {tmp}/t.md", "--table has no effect without "
        "--triples"),
    Bad("eval-pairs-with-triples", "eval --triples {tmp} --pairs 10", "--pairs has no effect with --triples"),
    # --- messages that name the real cause
    Bad("photo-source-missing", "swap {tmp}/nope.png {tmp}/face.png --mixer {mixer} -o {tmp}/o.png",
        "nope.png: no such file or folder", FACE),
    Bad("photo-target-missing", "swap {tmp}/face.png {tmp}/nope.jpg --mixer {mixer} -o {tmp}/o.png",
        "nope.jpg: no such file or folder", FACE),
    Bad("reference-face-folder", PHOTOS + " --reference-face {tmp}", "is a directory", FACE),
    Bad("video-folder-as-clip", "swap {tmp}/face.png {tmp}/d.mp4 --mixer {mixer} -o {tmp}/o.mp4",
        "d.mp4: is a folder, not a video file", FACE + (folder("d.mp4"),)),
    Bad("video-clip-missing", "swap {tmp}/face.png {tmp}/nope.mp4 --mixer {mixer} -o {tmp}/o.mp4",
        "nope.mp4: no such file", FACE),
    Bad("video-clip-as-source", "swap {tmp}/clip.mp4 {tmp}/face.png --mixer {mixer} -o {tmp}/o.png",
        "a clip is swapped as the TARGET", CLIP_FILES),
    Bad("video-seed-source", "swap seed:1 {tmp}/clip.mp4 --mixer {mixer} -o {tmp}/o.mp4",
        "a video swap takes one source photo or aligned crop", CLIP_FILES),
    Bad("video-start-past-the-end", CLIP + " --start 5", "--start 5.0: past the end of", CLIP_FILES),
    Bad("video-frames-over-the-limit", "swap {tmp}/face.png {tmp}/big.mkv --mixer {mixer} -o {tmp}/o.mp4",
        "frames of 12000×11000 pixels are more than 120 megapixels", FACE + (raw("big.mkv", Y4M_HUGE),)),
    Bad("video-stream-not-video", CLIP + " --stream 3", "stream 3 is not a video stream (its video streams: 0)",
        CLIP_FILES),
    Bad("video-codec-gif-into-mp4", CLIP + " --codec gif", "--codec gif cannot write 32×32 video into .mp4 ('mp4' "
        "format does not support 'gif' codec); these can: libx264", CLIP_FILES),
    Bad("video-codec-png-into-webm", CLIP.replace("o.mp4", "o.webm") + " --codec png",
        "--codec png cannot write 32×32 video into .webm", CLIP_FILES),
    Bad("video-save-latents-over-a-folder", CLIP + " --save-latents", "o.npy: expected an output file, but it is an "
        "existing folder", CLIP_FILES + (folder("o.npy"),)),
    Bad("latents-truncated", SWAP.replace("seed:1", "{tmp}/w.npy"), "truncated: its header declares float32 [1, 6, 32] "
        "(768 bytes of data), the file holds 700", (npy("w.npy", W), truncate("w.npy", 68))),
    Bad("path-with-a-newline", "swap '{tmp}/two\nlines.png' seed:2 --mixer {mixer} -o {tmp}/o.png",
        "two\\nlines.png: no such file or folder"),
]  # fmt: skip


# --- running the command line ---------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_in_process(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """`lsw ARGV` through the `lsw` entry's click group in standalone mode (exit codes as a process
    gets them); an exception that escapes counts as a traceback."""
    import traceback

    from lsw_core.cli import add_plugin_commands, cli

    add_plugin_commands()
    result = CliRunner().invoke(cli, argv, prog_name="lsw", env=env)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(result.exception))
    return Run(result.exit_code, result.stdout, stderr)


@pytest.fixture(scope="module")
def mixer(example_prefix, tmp_path_factory) -> Path:
    """One trained example-tiny mixer for every row (1 step: only its files matter)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(example_prefix))
        lsw_core.plugins.reset()
        from lsw_core.training.trainer import MixerTrainer

        out = tmp_path_factory.mktemp("bad_inputs") / "mixer"
        MixerTrainer(tiny_train_config(batch_size=2, steps=1), out, progress=False).train()
    lsw_core.plugins.reset()
    return out


@pytest.fixture
def cli_env(example_prefix, monkeypatch):
    """The example backend discoverable in process (and in `lsw` subprocesses)."""
    monkeypatch.syspath_prepend(str(example_prefix))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(example_prefix), os.environ.get("PYTHONPATH", "")]))
    lsw_core.plugins.reset()
    yield
    lsw_core.plugins.reset()


def read_only_folder(tmp: Path) -> Path:
    """A folder no file can be created in. Root ignores permission bits, so as root this is sysfs,
    where nobody may create files."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def snapshot(*folders: Path) -> dict[str, tuple]:
    """Every entry under `folders`: a link's target, a folder, or a file's contents, inode and mode."""

    def entry(p: Path) -> tuple:
        st = p.lstat()
        if p.is_symlink():
            return ("link", os.readlink(p), st.st_ino)
        if p.is_dir():
            return ("folder", st.st_ino)
        return ("file", hashlib.sha256(p.read_bytes()).hexdigest(), st.st_ino, st.st_mode)

    return {str(p): entry(p) for folder in folders for p in sorted(folder.rglob("*"))}


def prepare(case: Bad, tmp: Path, mixer: Path) -> list[str]:
    (tmp / "existing.txt").write_text("keep me\n")
    for write in case.setup:
        write(tmp)
    values = {"mixer": mixer, "tmp": tmp, "file": tmp / "existing.txt", "ro": read_only_folder(tmp)}
    return [part.format(**values) for part in shlex.split(case.argv)]


def assert_one_error_line(result: Run, expect: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expect in lines[0], lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_error_line_and_changes_nothing(case, mixer, cli_env, tmp_path):
    argv = prepare(case, tmp_path, mixer)
    before = snapshot(tmp_path, mixer)
    result = run_in_process(argv, case.env)
    assert_one_error_line(result, case.expect)
    after = snapshot(tmp_path, mixer)
    assert after == before  # contents, links and inodes unchanged, nothing added (no folder, no temporary)


def float_options() -> list[tuple[list[str], str]]:
    """(command path, option) for every float option of every command `lsw` has, plugin commands too."""
    import click

    from lsw_core.cli import add_plugin_commands, cli

    add_plugin_commands()
    found = []

    def walk(group: click.Group, path: list[str], ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, [*path, name], click.Context(command, parent=ctx))
                continue
            for param in command.params:
                if isinstance(param, click.Option) and isinstance(param.type, click.types.FloatParamType):
                    found.append(([*path, name], param.opts[0]))

    walk(cli, [], click.Context(cli))
    return found


def test_every_float_option_of_every_command_refuses_nan_and_inf(cli_env):
    """Walks the commands as `lsw` serves them (a float option a plugin declares as plain `float`
    included): NaN and ±inf end in one error line when the option is parsed, before anything runs."""
    options = float_options()
    paths = {" ".join(path) for path, _ in options}
    assert {"swap", "train", "demo", "encoder train"} <= paths and len(options) >= 20, options
    for path, option in options:
        for value in ("nan", "inf", "-inf"):
            result = run_in_process([*path, option, value])
            assert_one_error_line(result, f"'{option}': '{value}' is not a finite number")


def test_the_table_is_large_and_its_ids_unique():
    assert len(CASES) >= 50 and len({c.id for c in CASES}) == len(CASES)


CONSOLE_ROWS = [
    "seed-overflow",
    "latents-object",
    "eval-pairs-zero",
    "out-in-proc",
    "path-with-a-newline",
    "train-two-recipes",
]


@pytest.mark.slow
@pytest.mark.parametrize("row", CONSOLE_ROWS)
def test_in_process_runs_match_the_lsw_console_script(row, mixer, cli_env, tmp_path):
    case = next(c for c in CASES if c.id == row)
    argv = prepare(case, tmp_path, mixer)
    real = run_lsw(*argv, check=False, env=case.env)
    assert_one_error_line(Run(real.returncode, real.stdout, real.stderr), case.expect)
    assert run_in_process(argv, case.env).stderr == real.stderr


def test_a_crafted_architecture_file_is_refused_within_a_3_gb_address_space(tmp_path):
    """A 1.4 KB file asking for a 2²⁰-pixel StyleGAN2: refused from its settings, in seconds, in a
    process that could not even hold the network's first layers."""
    stylegan2_file("h.pt", **HUGE_RES)(tmp_path)
    assert (tmp_path / "h.pt").stat().st_size < 4000
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
        "from lsw_core.cli import main; sys.argv = ['lsw'] + sys.argv[1:]; main()"
    )
    np.save(tmp_path / "w.npy", np.zeros((1, 18, 512), np.float32))
    convert = ["convert", str(tmp_path / "h.pt"), str(tmp_path / "out"), "--generator", "stylegan2"]
    edit = [
        "edit",
        str(tmp_path / "w.npy"),
        "-g",
        "stylegan2",
        "--checkpoint",
        str(tmp_path / "h.pt"),
        "--ganspace",
        "0",
    ]
    for argv in (convert, edit):
        result = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert_one_error_line(Run(result.returncode, result.stdout, result.stderr), "found 1048576")
    assert not (tmp_path / "out").exists()


def test_lsw_plugins_naming_no_plugin_warns_once(tmp_path):
    result = run_lsw("backends", env={"LSW_PLUGINS": "nosuch,synthface"})
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: LSW_PLUGINS names nosuch"), result.stderr
    assert "synthface" in result.stdout


# --- beyond the table: limits, signals, torchrun, a full disk, caches -----------------------------

LSW_UNDER_3_GB = (
    "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
    "from lsw_core.cli import main; sys.argv = ['lsw'] + sys.argv[1:]; main()"
)
CRAFTED_ROWS = ["latents-pt-stride-0", "lightning-stride-0", "lightning-billion-laughs", "netpickle-stride-0",
                "mixer-config-200-rows-of-2048", "latents-npy-header-larger-than-the-file"]  # fmt: skip


@pytest.mark.parametrize("row", CRAFTED_ROWS)
def test_crafted_containers_are_refused_within_a_3_gb_address_space(row, mixer, cli_env, tmp_path):
    """The table's crafted files through the real `lsw` process, which may not grow past 3 GB."""
    case = next(c for c in CASES if c.id == row)
    argv = prepare(case, tmp_path, mixer)
    before = snapshot(tmp_path)
    result = subprocess.run([sys.executable, "-c", LSW_UNDER_3_GB, *argv], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)  # fmt: skip
    assert_one_error_line(Run(result.returncode, result.stdout, result.stderr), case.expect)
    assert snapshot(tmp_path) == before


def test_written_files_get_the_mode_the_umask_gives(mixer, cli_env, tmp_path):
    previous = os.umask(0o027)
    try:
        result = run_in_process(["swap", "seed:1", "seed:2", "--mixer", str(mixer), "-o", str(tmp_path / "o.webp"),
                                 "--save-latents"])  # fmt: skip
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    for name in ("o.webp", "o.npy"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640, name
    from PIL import Image

    assert Image.open(tmp_path / "o.webp").format == "WEBP"  # written in the format its suffix names


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".tiff", "TIFF"), (".png", "PNG"), (".bmp", "BMP")])
def test_each_image_suffix_is_written_in_its_own_format(suffix, fmt, tmp_path):
    from PIL import Image

    from lsw_core.images import save_image

    save_image(torch.zeros(3, 8, 8), tmp_path / f"x{suffix}")
    assert Image.open(tmp_path / f"x{suffix}").format == fmt
    with pytest.raises(lsw_core.LswError, match="not an image format lsw writes"):
        save_image(torch.zeros(3, 8, 8), tmp_path / "x.npy")


def signal_clip(tmp: Path, frames: int = 400) -> None:
    """A clip long enough to be interrupted mid-write even on a busy machine: `frames` frames that
    change, of example-tiny's 16² (aligned crops)."""
    import av

    with av.open(str(tmp / "clip.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            pixels = np.full((16, 16, 3), (i * 7) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def start_clip_swap(tmp: Path, mixer: Path, out: str = "o.mp4", *extra: str) -> subprocess.Popen:
    png("face.png", 32)(tmp)
    argv = ["swap", str(tmp / "face.png"), str(tmp / "clip.mp4"), "--mixer", str(mixer), "--aligned", "-o",
            str(tmp / out), "--no-cache", "--tune-frames", "0", "--smooth", "1", "--inverter", "w",
            "--inverter-option", "perceptual=pixel-ssim", "--inverter-option", "steps=2", *extra]  # fmt: skip
    return subprocess.Popen([str(Path(sys.executable).parent / "lsw"), *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp, preexec_fn=interruptible)  # fmt: skip


def temporaries(folder: Path) -> list[Path]:
    from lsw_core.outputs import is_temporary

    return [p for p in folder.iterdir() if is_temporary(p.name)]


def wait_for_temporary(process: subprocess.Popen, folder: Path, timeout: float = 120) -> Path:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = temporaries(folder)
        if found:  # the writer opens it before the first frame is decoded, and holds it to the end
            return found[0]
        if process.poll() is not None:
            raise AssertionError(f"the clip swap ended before writing: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("no temporary appeared")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_clip_swap_removes_its_temporary(signum, mixer, cli_env, tmp_path):
    signal_clip(tmp_path)
    process = start_clip_swap(tmp_path, mixer)
    wait_for_temporary(process, tmp_path)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and "Traceback" not in stderr, stderr
    assert temporaries(tmp_path) == [] and not (tmp_path / "o.mp4").exists()


def test_the_temporary_of_a_killed_run_is_removed_by_the_next_run_into_the_folder(mixer, cli_env, tmp_path):
    signal_clip(tmp_path)
    process = start_clip_swap(tmp_path, mixer)
    left = wait_for_temporary(process, tmp_path)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert left.exists()  # nothing can run on SIGKILL
    lookalikes = [tmp_path / ".o-abcdefgh.mp4", tmp_path / "o.mp4.lsw-12-abcdefgh.tmp"]  # not the pattern: kept
    for path in lookalikes:
        path.write_bytes(b"user data")
    process = start_clip_swap(tmp_path, mixer, "again.mp4", "--max-frames", "2")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert not left.exists() and temporaries(tmp_path) == []
    assert all(path.read_bytes() == b"user data" for path in lookalikes)
    assert (tmp_path / "again.mp4").stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def torchrun(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    launcher = Path(sys.executable).parent / "torchrun"
    return subprocess.run([str(launcher), "--standalone", "--nproc-per-node", "2", "-m", "lsw_core", *argv],
                          capture_output=True, text=True, timeout=300, cwd=cwd)  # fmt: skip


def test_under_torchrun_one_process_swaps_and_writes(mixer, cli_env, tmp_path):
    result = torchrun("swap", "seed:1", "seed:2", "--mixer", str(mixer), "-o", str(tmp_path / "o.png"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("wrote") == 1 and "error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


def test_a_torchrun_layout_that_cannot_split_the_batch_is_one_error_line(cli_env, tmp_path):
    result = torchrun("train", *TINY_TRAIN, "--batch-size", "3", "--steps", "1", "--out", str(tmp_path / "run"),
                      cwd=tmp_path)  # fmt: skip
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--batch-size 3 cannot be split over the 2 training processes" in errors[0]
    # torchrun reports its failed worker in its own words; nothing of lsw's code raised
    assert "lsw_core/" not in result.stderr and not (tmp_path / "run").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs made for the test (root and mount(2) needed: skipped where it cannot be)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True,
                       capture_output=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc}); the full-disk case needs root and mount(2)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False, capture_output=True, timeout=30)


def test_a_checkpoint_that_hits_a_full_disk_keeps_the_previous_one_and_resumes(small_disk, example_plugin):

    run = small_disk / "run"
    run_lsw("train", *TINY_TRAIN, "--batch-size", "2", "--steps", "1", "--out", str(run), "-q")
    before = snapshot(run)
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * max(free - 64 * 1024, 0))  # room for log lines, not for a checkpoint
    result = run_lsw("train", "--resume", str(run), "--steps", "3", "--checkpoint-every", "1", "-q", check=False)
    assert_one_error_line(Run(result.returncode, result.stdout, result.stderr), "keeps the checkpoint of step 1")
    assert "No space left on device" in result.stderr and f"--resume {run}" in result.stderr
    after = snapshot(run)
    log = str(run / "log.jsonl")
    assert {k: v for k, v in after.items() if k != log} == {k: v for k, v in before.items() if k != log}
    assert temporaries(run) == []
    filler.unlink()
    run_lsw("train", "--resume", str(run), "--steps", "3", "-q")
    assert json.loads((run / "config.json").read_text())["step"] == 3


def test_a_train_run_that_fails_before_writing_leaves_no_folder(example_plugin, tmp_path):
    result = run_in_process(["train", "-g", "example-tiny", "--mu", "0", "--embedder", "nosuch", "--out",
                             str(tmp_path / "a" / "b" / "run")])  # fmt: skip
    assert_one_error_line(result, "unknown identity embedder 'nosuch'")
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_whose_held_out_error_is_nan_writes_nothing(example_plugin, tmp_path):

    out = tmp_path / "e.safetensors"
    result = run_lsw("encoder", "train", "-g", "example-tiny", "--pool-size", "2", "--batch-size", "64", "--steps",
                     "2", "--quiet", "-o", str(out), check=False)  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_cache_folder_follows_xdg_and_falls_back_to_none_with_a_warning(monkeypatch, tmp_path):
    from lsw_core.inversion.cache import default_cache_folder

    monkeypatch.delenv("LSW_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_folder() == tmp_path / "xdg" / "lsw" / "pivots"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/used")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_folder() == tmp_path / "home" / ".cache" / "lsw" / "pivots"
    for variable, value, message in [("HOME", "", "HOME is ''"), ("HOME", "/proc", "pivot cache from HOME"),
                                     ("LSW_CACHE", str(tmp_path / "file"), "is a file, not a folder")]:  # fmt: skip
        (tmp_path / "file").write_text("not a folder")
        monkeypatch.setenv(variable, value)
        with pytest.warns(UserWarning, match=message):
            assert default_cache_folder() is None
    assert not Path("/.cache").exists() or Path("/.cache").stat().st_mtime < __import__("time").time() - 3600


def test_a_swap_without_a_home_warns_once_and_caches_nothing(mixer, cli_env, tmp_path):

    for name, color in (("a.png", (128, 90, 60)), ("b.png", (60, 90, 128))):
        from PIL import Image

        Image.new("RGB", (32, 32), color).save(tmp_path / name)
    result = run_lsw("swap", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--mixer", str(mixer), "--aligned",
                     "--inverter", "w", "--inverter-option", "perceptual=pixel-ssim", "--inverter-option", "steps=2",
                     "-o", str(tmp_path / "o.png"), env={"HOME": "", "LSW_CACHE": "", "XDG_CACHE_HOME": ""})  # fmt: skip
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "pivots are not cached" in warnings[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "o.png"]


def test_a_damaged_or_misshapen_cache_entry_is_a_miss_that_names_it(tmp_path):
    from lsw_core.inversion.cache import PivotCache, _read

    class Layout:  # what `_read` asks of a generator
        num_ws, w_dim, camera, device = NUM_WS, W_DIM, None, torch.device("cpu")

    cache = PivotCache(tmp_path)
    path = cache.put("k", {"ws": torch.ones(1, NUM_WS, W_DIM)})
    assert _read(cache, "k", Layout()).ws.shape == (1, NUM_WS, W_DIM)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40  # one flipped bit in the last value
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=f"pivot cache entry {path} not used .*checksum"):
        assert cache.get("k") is None
    cache.put("k", {"ws": torch.ones(1, NUM_WS + 1, W_DIM)})
    with pytest.warns(UserWarning, match=rf"pivot cache entry {path} not used \(ws is \[1, 7, 32\]"):
        assert _read(cache, "k", Layout()) is None


def test_an_unknown_w_avg_is_estimated_before_truncation(monkeypatch):
    """A plugin generator whose w_avg is all zeros (unknown) and whose w lies around 3: ψ = 0.5 must
    pull towards that mean, not towards zero."""
    import lsw_core

    class Shifted(lsw_core.Generator):
        z_dim = w_dim = 8
        num_ws, resolution = 2, 8

        def __init__(self):
            super().__init__()
            self.register_buffer("w_avg", torch.zeros(self.w_dim))

        def _mapping(self, z, *, truncation_psi, truncation_cutoff):
            ws = (z + 3)[:, None].repeat(1, self.num_ws, 1)
            return self.w_avg.lerp(ws, truncation_psi)

        def _synthesis(self, ws, *, camera, noise_mode):
            return torch.zeros(ws.shape[0], 3, 8, 8)

    class Plugin:
        @lsw_core.hookimpl
        def register_generators(self, register):
            register("shifted-test", lambda checkpoint=None: Shifted())

    pm = lsw_core.plugins.plugin_manager()
    pm.register(Plugin(), name="shifted-test")
    try:
        G = lsw_core.load_generator("shifted-test")
    finally:
        pm.unregister(name="shifted-test")
    assert (G.w_avg - 3).abs().max() < 0.1  # estimated at load: the fingerprint no longer changes later
    ws = G.mapping(torch.randn(4000, 8, generator=torch.Generator().manual_seed(1)), truncation_psi=0.5)
    assert (ws.mean((0, 1)) - 3).abs().max() < 0.1
    direct = Shifted()  # built without the registry: estimated at the first truncation
    assert (direct.mapping(torch.zeros(1, 8), truncation_psi=0.0)[0, 0] - 3).abs().max() < 0.1
