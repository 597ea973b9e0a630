"""The constant part of an ONNX graph folded to fp32 arrays: initializers, `Constant` nodes, and the
`DequantizeLinear` and `Reshape` nodes whose inputs are all constant (how a quantised model stores
its weights). Only these three operators are evaluated, on numpy arrays, with every shape checked.
"""

from __future__ import annotations

import math

import numpy as np

from lsw_core.errors import CheckpointError
from lsw_sface.onnx_reader import Graph, Node


def dequantize(
    x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, *, axis: int, block_size: int
) -> np.ndarray:
    """ONNX `DequantizeLinear` (opset 21): (x − zero_point) · scale, with a scalar scale (per tensor),
    a 1-D scale along `axis` (per axis), or, for `block_size` B > 0, a scale of x's shape but
    ⌈D/B⌉ along `axis`, each entry covering B consecutive elements there (blocked)."""
    if x.dtype.kind not in "iu":
        raise CheckpointError(f"DequantizeLinear: expected integer values, got {x.dtype}")
    if zero_point is not None and (zero_point.dtype != x.dtype or zero_point.shape != scale.shape):
        raise CheckpointError(
            f"DequantizeLinear: zero point {zero_point.dtype}{list(zero_point.shape)} does not match "
            f"values {x.dtype} and scale {list(scale.shape)}"
        )
    zp = np.zeros(scale.shape, np.float32) if zero_point is None else zero_point.astype(np.float32)
    scale = scale.astype(np.float32)
    if x.ndim and not -x.ndim <= axis < x.ndim:
        raise CheckpointError(f"DequantizeLinear: axis {axis} for values of rank {x.ndim}")
    axis %= max(x.ndim, 1)
    if scale.size == 1 and block_size == 0:
        s, z = scale.reshape(()), zp.reshape(())
    elif block_size == 0:
        if scale.shape != (x.shape[axis],):
            raise CheckpointError(
                f"DequantizeLinear: per-axis scale {list(scale.shape)} for {list(x.shape)}, axis {axis}"
            )
        view = [1] * x.ndim
        view[axis] = -1
        s, z = scale.reshape(view), zp.reshape(view)
    else:
        if block_size < 0:
            raise CheckpointError(f"DequantizeLinear: block_size {block_size}, expected ≥ 0")
        expected = list(x.shape)
        expected[axis] = math.ceil(x.shape[axis] / block_size)
        if list(scale.shape) != expected:
            raise CheckpointError(
                f"DequantizeLinear: blocked scale {list(scale.shape)} for values {list(x.shape)}, "
                f"axis {axis}, block {block_size}; expected {expected}"
            )
        s = np.repeat(scale, block_size, axis=axis).take(range(x.shape[axis]), axis=axis)
        z = np.repeat(zp, block_size, axis=axis).take(range(x.shape[axis]), axis=axis)
    with np.errstate(over="ignore", invalid="ignore"):
        y = ((x.astype(np.float32) - z) * s).astype(np.float32)
    if not np.isfinite(y).all():
        raise CheckpointError("DequantizeLinear: the scales give NaN or infinite weights")
    return y


def _reshape(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    target = [int(d) for d in shape.reshape(-1)]
    target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]  # 0 copies the input's size
    if target.count(-1) > 1 or any(d < -1 for d in target):
        raise CheckpointError(f"Reshape: target shape {target} is not valid")
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        if known == 0 or x.size % known:
            raise CheckpointError(f"Reshape: cannot infer {target} from {list(x.shape)}")
        target[target.index(-1)] = x.size // known
    if math.prod(target) != x.size:
        raise CheckpointError(
            f"Reshape: {list(x.shape)} has {x.size} elements, target {target} needs {math.prod(target)}"
        )
    return x.reshape(target)


def _fold(node: Node, values: dict[str, np.ndarray]) -> np.ndarray:
    args = [values[name] if name else None for name in node.inputs]
    if len(args) < 2 or args[0] is None or args[1] is None:
        raise CheckpointError(f"{node.op_type} {node.name!r}: expected its first two inputs, got {list(node.inputs)}")
    if node.op_type == "DequantizeLinear":
        if len(args) not in (2, 3):
            raise CheckpointError(f"DequantizeLinear {node.name!r}: expected 2 or 3 inputs, got {len(args)}")
        zp = args[2] if len(args) == 3 else None
        return dequantize(
            args[0],
            args[1],
            zp,
            axis=node.int_attr("axis", 1),
            block_size=node.int_attr("block_size", 0),
        )
    if node.op_type == "Reshape":
        if len(args) != 2 or args[1] is None or args[1].ndim != 1:
            raise CheckpointError(f"Reshape {node.name!r}: expected data and a 1-D shape")
        return _reshape(args[0], args[1])
    raise AssertionError(node.op_type)


def fold_constants(graph: Graph) -> dict[str, np.ndarray]:
    """Every value of `graph` computable from constants alone, by name."""
    values = dict(graph.initializers)
    for node in graph.nodes:
        if len(node.outputs) != 1:
            continue
        if node.op_type == "Constant":
            if not isinstance(node.attributes.get("value"), np.ndarray):
                raise CheckpointError(f"Constant {node.name!r}: expected a tensor `value` attribute")
            values[node.outputs[0]] = node.attributes["value"]
        elif node.op_type in ("DequantizeLinear", "Reshape") and all(n in values for n in node.inputs if n):
            values[node.outputs[0]] = _fold(node, values)
    return values
