"""A reader for dlib's binary serialisation (`dlib/serialize.h`, `dlib/dnn`): the primitive values
and the per-layer records of a serialised `dnn` network.

Integers are "packed": one control byte (low nibble = number of bytes, 0x80 = negative) followed by
that many little-endian bytes. Strings are a packed length and the bytes. Scalars of type float or
double are a packed int64 mantissa and a packed int16 exponent. Tensors are a packed header
(version 2, num_samples, k, nr, nc) followed by raw little-endian float32 values. Booleans are the
ASCII characters '0' or '1'.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lsw_core.errors import CheckpointError

_SPECIAL_EXPONENTS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


class DlibStream:
    """Sequential reader over the bytes of a dlib-serialised object."""

    def __init__(self, data: bytes, name: str = "<bytes>"):
        self.data = data
        self.pos = 0
        self.name = name

    @classmethod
    def open(cls, path: str | Path) -> DlibStream:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"dlib model file: expected an existing file, got {str(path)!r}")
        return cls(path.read_bytes(), name=str(path))

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.name}: {what} at byte {self.pos}; not a dlib network of the expected layout")

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(f"unexpected end of file reading {n} bytes")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise self.fail(f"invalid integer control byte 0x{control:02x}")
        value = int.from_bytes(self._take(size), "little") if size else 0
        return -value if control & 0x80 else value

    def string(self) -> str:
        length = self.int()
        if length < 0 or length > 1 << 16:
            raise self.fail(f"implausible string length {length}")
        return self._take(length).decode("latin-1")

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent in _SPECIAL_EXPONENTS:
            return _SPECIAL_EXPONENTS[exponent]
        return math.ldexp(mantissa, exponent)

    def bool(self) -> bool:
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise self.fail(f"invalid boolean byte {ch!r}")
        return ch == b"1"

    def tensor(self) -> np.ndarray:
        """A `resizable_tensor`: returns float32 values shaped [num_samples, k, nr, nc]."""
        version = self.int()
        if version != 2:
            raise self.fail(f"tensor version {version} (expected 2)")
        shape = tuple(self.int() for _ in range(4))
        count = math.prod(shape)
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        """An `alias_tensor` (a view into a layer's params): only its shape is stored."""
        version = self.int()
        if version != 1:
            raise self.fail(f"alias_tensor version {version} (expected 1)")
        return tuple(self.int() for _ in range(4))

    def expect_int(self, expected: int, what: str) -> None:
        found = self.int()
        if found != expected:
            raise self.fail(f"{what}: expected {expected}, found {found}")

    def at_end(self) -> bool:
        return self.pos == len(self.data)
