"""A tiny protobuf / ONNX encoder for the tests: small models written field by field, so the reader
meets files whose every byte the test knows (and can break)."""

from __future__ import annotations

import struct

import numpy as np


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as ten-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def f_varint(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def f_bytes(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def f_str(number: int, text: str) -> bytes:
    return f_bytes(number, text.encode())


def f_float(number: int, value: float) -> bytes:
    return key(number, 5) + struct.pack("<f", value)


DATA_TYPES = {np.dtype("float32"): 1, np.dtype("uint8"): 2, np.dtype("int8"): 3, np.dtype("int64"): 7}


def tensor(name: str, array: np.ndarray, *, dims: list[int] | None = None, raw: bytes | None = None) -> bytes:
    """A TensorProto with raw_data (dims and bytes overridable to make broken ones)."""
    array = np.asarray(array)
    dims = list(array.shape) if dims is None else dims
    body = f_bytes(1, b"".join(varint(d) for d in dims)) if dims else b""
    body += f_varint(2, DATA_TYPES[array.dtype]) + f_str(8, name)
    return body + f_bytes(9, array.astype(array.dtype.newbyteorder("<")).tobytes() if raw is None else raw)


def attribute(name: str, value) -> bytes:
    if isinstance(value, float):
        return f_str(1, name) + f_varint(20, 1) + f_float(2, value)
    if isinstance(value, int):
        return f_str(1, name) + f_varint(20, 2) + f_varint(3, value)
    if isinstance(value, np.ndarray):
        return f_str(1, name) + f_varint(20, 4) + f_bytes(5, tensor("", value))
    if isinstance(value, list):
        return f_str(1, name) + f_varint(20, 7) + f_bytes(8, b"".join(varint(v) for v in value))
    raise TypeError(type(value))


def node(op_type: str, inputs: list[str], outputs: list[str], name: str = "", **attributes) -> bytes:
    body = b"".join(f_str(1, i) for i in inputs) + b"".join(f_str(2, o) for o in outputs)
    body += f_str(3, name or outputs[0]) + f_str(4, op_type)
    return body + b"".join(f_bytes(5, attribute(k, v)) for k, v in attributes.items())


def value_info(name: str, shape: list[int]) -> bytes:
    dims = b"".join(f_bytes(1, f_varint(1, d)) for d in shape)
    tensor_type = f_varint(1, 1) + f_bytes(2, dims)
    return f_str(1, name) + f_bytes(2, f_bytes(1, tensor_type))


def graph(nodes: list[bytes], initializers: list[bytes], inputs: list[bytes], outputs: list[bytes]) -> bytes:
    body = b"".join(f_bytes(1, n) for n in nodes) + f_str(2, "g")
    body += b"".join(f_bytes(5, t) for t in initializers)
    return body + b"".join(f_bytes(11, i) for i in inputs) + b"".join(f_bytes(12, o) for o in outputs)


def model(graph_bytes: bytes, *, ir_version: int = 10, opset: int = 21) -> bytes:
    opset_import = f_str(1, "") + f_varint(2, opset)
    return f_varint(1, ir_version) + f_str(2, "lsw-tests") + f_bytes(7, graph_bytes) + f_bytes(8, opset_import)


def small_model(rng: np.random.Generator | None = None) -> tuple[bytes, dict[str, np.ndarray]]:
    """data [1, 2, 4, 4] → Sub → Mul → Conv (weights block-quantised, DequantizeLinear + Reshape) →
    BatchNormalization → PRelu; returns the file's bytes and its initializers."""
    rng = rng or np.random.default_rng(0)
    inits = {
        "shift": np.array([127.5], np.float32),
        "scale": np.array([1 / 128], np.float32),
        "w_q": rng.integers(-128, 128, size=(3, 18), dtype=np.int8),
        "w_scale": rng.uniform(0.001, 0.01, size=(3, 2)).astype(np.float32),
        "w_zp": rng.integers(-20, 20, size=(3, 2), dtype=np.int8),
        "w_shape": np.array([3, 2, 3, 3], np.int64),
        "gamma": rng.uniform(0.5, 1.5, 3).astype(np.float32),
        "beta": rng.normal(size=3).astype(np.float32),
        "mean": rng.normal(size=3).astype(np.float32),
        "var": rng.uniform(0.5, 1.5, 3).astype(np.float32),
        "slope": rng.normal(size=(3, 1, 1)).astype(np.float32),
    }
    nodes = [
        node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w_flat"], axis=1, block_size=9),
        node("Reshape", ["w_flat", "w_shape"], ["w"]),
        node("Sub", ["data", "shift"], ["a"]),
        node("Mul", ["a", "scale"], ["b"]),
        node("Conv", ["b", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], group=1),
        node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["d"], epsilon=1e-3),
        node("PRelu", ["d", "slope"], ["out"]),
    ]
    body = graph(
        nodes,
        [tensor(k, v) for k, v in inits.items()],
        [value_info("data", [1, 2, 4, 4])],
        [value_info("out", [1, 3, 4, 4])],
    )
    return model(body), inits
