"""The protobuf wire format, read by hand and bounded: a message is a sequence of (field number,
wire type, value) records; varints are at most 10 bytes, length-delimited values must lie inside
the enclosing message, and groups (wire types 3 and 4, long deprecated) are refused. Nothing is
allocated from a length before that length has been checked against the bytes that remain.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lsw_core.errors import CheckpointError

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5
WIRE_NAMES = {VARINT: "varint", FIXED64: "fixed64", BYTES: "length-delimited", FIXED32: "fixed32"}
MAX_FIELD_NUMBER = (1 << 29) - 1


class WireError(CheckpointError):
    """Bytes that are not a well-formed protobuf message of the expected kind."""


class Message:
    """A view of one encoded message: `buf[start:end]`, named by its path for error messages."""

    __slots__ = ("buf", "start", "end", "path")

    def __init__(self, buf: memoryview, start: int, end: int, path: str):
        if not 0 <= start <= end <= len(buf):
            raise WireError(f"{path}: message bounds [{start}, {end}) outside {len(buf)} bytes")
        self.buf, self.start, self.end, self.path = buf, start, end, path

    def __len__(self) -> int:
        return self.end - self.start

    def fail(self, what: str, pos: int | None = None) -> WireError:
        where = f" at byte {pos}" if pos is not None else ""
        return WireError(f"{self.path}: {what}{where}")

    def _varint(self, pos: int) -> tuple[int, int]:
        value = shift = 0
        for i in range(10):
            if pos + i >= self.end:
                raise self.fail("truncated varint", pos)
            byte = self.buf[pos + i]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if i == 9 and byte > 1:
                    raise self.fail("varint longer than 64 bits", pos)
                return value, pos + i + 1
            shift += 7
        raise self.fail("varint longer than 10 bytes", pos)

    def fields(self) -> Iterator[tuple[int, int, int | bytes | Message]]:
        """(field number, wire type, value): an int for varints, 4 or 8 raw bytes for fixed-width
        values, a sub-`Message` for length-delimited ones."""
        pos = self.start
        while pos < self.end:
            key, pos = self._varint(pos)
            number, wire = key >> 3, key & 7
            if not 1 <= number <= MAX_FIELD_NUMBER:
                raise self.fail(f"field number {number} out of range", pos)
            if wire == VARINT:
                value, pos = self._varint(pos)
                yield number, wire, value
            elif wire in (FIXED64, FIXED32):
                size = 8 if wire == FIXED64 else 4
                if pos + size > self.end:
                    raise self.fail(f"truncated {WIRE_NAMES[wire]} field {number}", pos)
                yield number, wire, bytes(self.buf[pos : pos + size])
                pos += size
            elif wire == BYTES:
                length, pos = self._varint(pos)
                if length > self.end - pos:
                    raise self.fail(f"field {number} claims {length} bytes, {self.end - pos} remain", pos)
                yield number, wire, Message(self.buf, pos, pos + length, f"{self.path}.{number}")
                pos += length
            else:
                raise self.fail(f"wire type {wire} (field {number}) is not used by this format", pos)

    # Values of a length-delimited field, each bounded by the message it sits in.

    def raw(self) -> memoryview:
        return self.buf[self.start : self.end]

    def text(self, limit: int = 1 << 16) -> str:
        if len(self) > limit:
            raise self.fail(f"string of {len(self)} bytes, expected at most {limit}")
        try:
            return bytes(self.raw()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail("string is not UTF-8") from exc

    def packed_varints(self, limit: int) -> list[int]:
        """A packed repeated varint field, at most `limit` values (each takes at least one byte)."""
        out, pos = [], self.start
        while pos < self.end:
            if len(out) >= limit:
                raise self.fail(f"more than {limit} packed values")
            value, pos = self._varint(pos)
            out.append(value)
        return out

    def packed_fixed(self, dtype: str, limit: int) -> np.ndarray:
        """A packed repeated fixed-width field as a little-endian numpy array of at most `limit` values."""
        item = np.dtype(dtype).itemsize
        if len(self) % item:
            raise self.fail(f"packed {dtype} field of {len(self)} bytes, not a multiple of {item}")
        if len(self) // item > limit:
            raise self.fail(f"{len(self) // item} packed values, expected at most {limit}")
        return np.frombuffer(self.raw(), dtype=dtype).copy()


def expect_wire(msg: Message, number: int, wire: int, expected: int, what: str) -> None:
    """Refuse a known field encoded with another wire type: the mark of a foreign message."""
    if wire != expected:
        raise msg.fail(
            f"{what} (field {number}) has wire type {WIRE_NAMES.get(wire, wire)}, expected {WIRE_NAMES[expected]}"
        )


def signed64(value: int) -> int:
    """A varint read as int64 (negative values are ten-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value
