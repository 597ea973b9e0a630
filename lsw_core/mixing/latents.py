"""The three latent spaces a mixer can work in (paper, "Latent Space"): Z, W and W+.

W+ (the default) mixes the mapped codes [B, num_ws, w_dim], truncated by ψ on the first `cutoff`
rows as the authors sample them. W mixes the single (fully truncated) w; the swap is copied to every
row. Z mixes z; the swap is mapped like any z. `encode` gives the code a mixer reads, `decode` the
W+ code a generator synthesises.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lsw_core.checks import check_latents
from lsw_core.errors import LswError
from lsw_core.formats.artifacts import atomic_write
from lsw_core.interfaces import Generator

SPACES = ("w+", "w", "z")
#: The truncation the authors' code trains with: ψ = 0.5 on the first 8 W+ rows. A mixer samples,
#: and is applied to, latents truncated as it was trained (its folder records what it used).
TRAINING_TRUNCATION_PSI = 0.5
TRAINING_TRUNCATION_CUTOFF = 8


def check_space(space: str) -> str:
    if space not in SPACES:
        raise LswError(f"latent space: expected one of {SPACES}, got {space!r}")
    return space


def mixer_shape(generator: Generator, space: str) -> tuple[int, int]:
    """(rows, width) of the codes a mixer for `space` on `generator` reads."""
    check_space(space)
    if space == "w+":
        return generator.num_ws, generator.w_dim
    return 1, generator.w_dim if space == "w" else generator.z_dim


def encode(generator: Generator, z: torch.Tensor, space: str, psi: float, cutoff: int | None) -> torch.Tensor:
    """z [B, z_dim] → the code in `space`, shaped [B, rows, width]."""
    if space == "z":
        return z[:, None]
    if space == "w":
        return generator.mapping(z, truncation_psi=psi, truncation_cutoff=None)[:, :1]
    return generator.mapping(z, truncation_psi=psi, truncation_cutoff=cutoff)


def decode(generator: Generator, code: torch.Tensor, space: str, psi: float, cutoff: int | None) -> torch.Tensor:
    """A code in `space` [B, rows, width] → W+ [B, num_ws, w_dim] for synthesis."""
    if space == "z":
        return generator.mapping(code[:, 0], truncation_psi=psi, truncation_cutoff=cutoff)
    if space == "w":
        return code.expand(-1, generator.num_ws, -1)
    return code


def from_wplus(ws: torch.Tensor, space: str) -> torch.Tensor:
    """Read a W+ code (e.g. an inversion pivot) as a code of `space`. W takes the first row (pivots
    in W are one w copied to every row); Z cannot be recovered from W+."""
    if space == "w+":
        return ws
    if space == "w":
        return ws[:, :1]
    raise LswError("a Z-space mixer can only swap codes sampled from z (seeds), not inverted W+ latents")


LATENT_SUFFIXES = (".npy", ".pt", ".pth")
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed's range (negative seeds alias large ones)


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """A non-empty list of integer seeds in [0, 2⁶⁴)."""
    seeds = list(seeds)
    if not seeds:
        raise LswError("seeds: expected at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise LswError(f"seed {s!r}: expected an integer, got {type(s).__name__}")
        if not 0 <= s <= MAX_SEED:
            raise LswError(f"seed {s}: expected an integer from 0 to {MAX_SEED}")
    return [int(s) for s in seeds]


def parse_seeds(spec: str) -> list[int]:
    """`seed:1,2,3` → [1, 2, 3] (checked by `check_seeds`)."""
    parts = [p.strip() for p in spec.removeprefix("seed:").split(",") if p.strip()]
    if not parts or any(not p.isdigit() or not p.isascii() for p in parts):
        raise LswError(f"{spec!r}: expected seed:N or seed:N,M,... with N, M whole numbers from 0 to {MAX_SEED}")
    return check_seeds(int(p) for p in parts)


def read_latents(path: str | os.PathLike, num_ws: int, w_dim: int) -> torch.Tensor:
    """W+ codes [B, num_ws, w_dim] from a `.npy` file (as `lsw swap --save-latents` writes) or a `.pt`
    file holding one tensor; a single code [num_ws, w_dim] becomes a batch of one."""
    path = Path(path)
    if path.suffix != ".npy":
        from lsw_core.formats.torchfile import load_torch_file

        data = load_torch_file(path, "latents file")
        if not torch.is_tensor(data):
            raise LswError(f"{path}: expected one tensor of W+ codes, found {type(data).__name__}")
    else:
        check_npy_header(path)
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError:  # an object array (reading it would run code), or fewer bytes than declared
            raise LswError(_npy_problem(path)) from None
        except (OSError, EOFError) as exc:
            raise LswError(f"{path}: not a readable .npy file ({exc})") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
            raise LswError(f"{path}: expected a numeric .npy array of W+ codes, found dtype {array.dtype}")
        data = torch.from_numpy(array)
    return as_wplus(data, num_ws, w_dim, name=str(path))


def save_latents(path: str | os.PathLike, codes: torch.Tensor | np.ndarray) -> Path:
    """Write W+ codes to a `.npy` file atomically (what `read_latents` reads)."""
    array = codes.detach().cpu().numpy() if torch.is_tensor(codes) else np.asarray(codes)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a temporary's name
            np.save(f, array, allow_pickle=False)

    atomic_write(path, write)
    return Path(path)


def check_npy_header(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of a `.npy` file from its header, refused unless the data the header declares
    is numeric and exactly what the file holds after the header (a crafted header cannot make the
    reader allocate more than the file's size)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise LswError(f"{path}: not a readable .npy file (no numpy header)")
            f.seek(0)
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise LswError(f"{path}: not a readable .npy file (format version {version})")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            offset = f.tell()
    except (OSError, ValueError, EOFError) as exc:
        raise LswError(f"{path}: not a readable .npy file ({exc})") from None
    if dtype.hasobject:
        raise LswError(f"{path}: expected a numeric .npy array of W+ codes, not Python objects")
    if dtype.kind not in "fiub":
        raise LswError(f"{path}: expected a numeric .npy array of W+ codes, found dtype {dtype}")
    count = 1
    for n in shape:
        count *= int(n)
    expected, found = count * dtype.itemsize, size - offset
    if expected != found:
        what = "truncated" if found < expected else "damaged (data past what its header declares)"
        raise LswError(
            f"{path}: {what}: its header declares {dtype} {list(shape)} ({expected} bytes of data), the file holds {found}"
        )
    return tuple(shape), dtype


def _npy_problem(path: Path) -> str:
    """Why numpy could not load the `.npy` file `path`: objects in it, or data shorter than its header says."""
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        except ValueError:
            return f"{path}: not a readable .npy file (damaged header)"
        if dtype.hasobject:
            return f"{path}: expected a numeric .npy array of W+ codes, not Python objects"
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        found = os.fstat(f.fileno()).st_size - f.tell()
    return f"{path}: truncated: its header declares {dtype} {list(shape)} ({expected} bytes of data), the file holds {found}"


def as_wplus(codes: torch.Tensor | np.ndarray, num_ws: int, w_dim: int, *, name: str = "ws") -> torch.Tensor:
    """Checked float32 W+ codes [B, num_ws, w_dim] from a tensor or numpy array [B, num_ws, w_dim] or
    [num_ws, w_dim]."""
    if isinstance(codes, np.ndarray):
        if codes.dtype.kind not in "fiub":
            raise LswError(f"{name}: expected a numeric array of W+ codes, found dtype {codes.dtype}")
        codes = torch.from_numpy(np.ascontiguousarray(codes))
    if torch.is_tensor(codes) and codes.ndim == 2:
        codes = codes[None]
    return check_latents(name, codes, num_ws, w_dim)


def is_latent_array(value: object, num_ws: int, w_dim: int) -> bool:
    """A numpy float array shaped like W+ codes ([B, num_ws, w_dim] or [num_ws, w_dim]), not a photo."""
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "f"
        and value.ndim in (2, 3)
        and value.shape[-2:] == (num_ws, w_dim)
    )
