"""SFace's recognition network (OpenCV model zoo, `face_recognition_sface_2021dec`) as a torch
module, with the layout its ONNX graph defines, and the loader that fills it from that graph.

The graph, input first: `data` (BGR, 0–255) → Sub 127.5 → Mul 1/128 → conv 3×3 (3 → 32) → 13
depthwise-separable pairs (depthwise 3×3, then pointwise 1×1), every convolution bias-free and
followed by BatchNormalization (ε = 1e-3) and PRelu (one slope per channel) → BatchNormalization
(ε = 2e-5) → Dropout (identity at inference) → Flatten → Gemm 1024·7·7 → 128 → BatchNormalization
(ε = 2e-5) = `fc1`, the raw 128-d embedding. The depthwise convolutions of pairs 3, 5, 7 and 13
have stride 2 (112 → 56 → 28 → 14 → 7). The loader walks the graph from its input and checks every
node against this module before copying a weight, so a file of another layout fails by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_sface.constants import fold_constants
from lsw_sface.onnx_reader import Graph, Node, read_model

INPUT_SIZE = 112
EMBEDDING_DIM = 128
#: (in, out, stride of the depthwise convolution) of the 13 depthwise-separable pairs conv_2 … conv_14.
SEPARABLE = (
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    *((512, 512, 1),) * 5,
    (512, 1024, 2),
    (1024, 1024, 1),
)
CONV_EPS, HEAD_EPS = 1e-3, 2e-5


class ConvUnit(nn.Module):
    """Convolution (no bias, 'same' padding) → BatchNorm → PReLU."""

    def __init__(self, *, in_channels: int, out_channels: int, kernel: int, stride: int, groups: int):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=CONV_EPS)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SFaceNet(nn.Module):
    """BGR face crops [B, 3, 112, 112] with values 0–255, aligned to the ArcFace template → raw
    embeddings [B, 128] (not normalised)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("input_shift", torch.tensor(127.5))
        self.register_buffer("input_scale", torch.tensor(1 / 128))
        units = [ConvUnit(in_channels=3, out_channels=32, kernel=3, stride=1, groups=1)]
        for cin, cout, stride in SEPARABLE:
            units.append(ConvUnit(in_channels=cin, out_channels=cin, kernel=3, stride=stride, groups=cin))
            units.append(ConvUnit(in_channels=cin, out_channels=cout, kernel=1, stride=1, groups=1))
        self.units = nn.Sequential(*units)
        self.bn = nn.BatchNorm2d(1024, eps=HEAD_EPS)
        self.fc = nn.Linear(1024 * 7 * 7, EMBEDDING_DIM)
        self.fc_bn = nn.BatchNorm1d(EMBEDDING_DIM, eps=HEAD_EPS)

    def forward(self, bgr: torch.Tensor) -> torch.Tensor:
        x = (bgr - self.input_shift) * self.input_scale
        x = self.bn(self.units(x)).flatten(1)
        return self.fc_bn(self.fc(x))


# ---------------------------------------------------------------------------------------------
# Loading from the ONNX graph


def activation_path(graph: Graph, constants: dict[str, np.ndarray]) -> list[Node]:
    """The nodes from the graph's one non-constant input to its output, which must form a chain:
    each node takes the previous node's first output as its first input and constants otherwise."""
    live = [n for n in graph.nodes if not (n.outputs and n.outputs[0] in constants)]
    consumers: dict[str, list[Node]] = {}
    for node in live:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    starts = [v.name for v in graph.inputs if v.name not in constants and v.name in consumers]
    if len(starts) != 1:
        raise CheckpointError(f"SFace graph: expected one image input, found {starts}")
    chain, value = [], starts[0]
    while value in consumers:
        nodes = consumers[value]
        if len(nodes) != 1 or nodes[0].inputs[0] != value:
            raise CheckpointError(f"SFace graph: value {value!r} feeds {[n.name for n in nodes]}, expected one chain")
        node = nodes[0]
        if not node.outputs:
            raise CheckpointError(f"SFace graph: node {node.name!r} has no output")
        if any(name and name not in constants for name in node.inputs[1:]):
            raise CheckpointError(f"SFace graph: node {node.name!r} takes more than one non-constant input")
        chain.append(node)
        if len(chain) > 10_000:
            raise CheckpointError("SFace graph: activation path longer than 10000 nodes")
        value = node.outputs[0]
    outputs = [v.name for v in graph.outputs]
    if outputs != [value]:
        raise CheckpointError(f"SFace graph: the chain ends at {value!r}, the graph's outputs are {outputs}")
    return chain


class _Reader:
    """Takes the chain's nodes in order, checking each one's type and constants."""

    def __init__(self, chain: list[Node], constants: dict[str, np.ndarray], source: str):
        self.chain, self.constants, self.source, self.pos = chain, constants, source, 0

    def fail(self, node: Node, what: str) -> CheckpointError:
        return CheckpointError(
            f"{self.source}: node {self.pos} ({node.op_type} {node.name!r}): {what}; not SFace's graph"
        )

    def take(self, op_type: str) -> Node:
        if self.pos >= len(self.chain):
            raise CheckpointError(f"{self.source}: graph ends after {self.pos} nodes, expected a {op_type} next")
        node = self.chain[self.pos]
        if node.op_type != op_type or node.domain not in ("", "ai.onnx"):
            raise self.fail(node, f"expected {op_type}")
        self.pos += 1
        return node

    def const(self, node: Node, index: int, shape: tuple[int, ...]) -> torch.Tensor:
        if index >= len(node.inputs) or not node.inputs[index]:
            raise self.fail(node, f"missing input {index}")
        value = self.constants[node.inputs[index]]
        if value.size != int(np.prod(shape)) or (
            value.shape != shape and value.squeeze().shape != tuple(d for d in shape if d != 1)
        ):
            raise self.fail(node, f"input {node.inputs[index]!r} has shape {list(value.shape)}, expected {list(shape)}")
        if not np.isfinite(value).all():
            raise self.fail(node, f"input {node.inputs[index]!r} has NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32).reshape(shape))

    def batch_norm(self, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
        node = self.take("BatchNormalization")
        eps = node.float_attr("epsilon", 1e-5)
        if abs(eps - bn.eps) > 1e-3 * bn.eps:
            raise self.fail(node, f"epsilon {eps}, expected {bn.eps}")
        bn.eps = eps
        c = (bn.num_features,)
        for i, t in enumerate((bn.weight, bn.bias, bn.running_mean, bn.running_var), start=1):
            t.data.copy_(self.const(node, i, c))
        if (bn.running_var < 0).any():
            raise self.fail(node, "negative running variance")

    def conv_unit(self, unit: ConvUnit) -> None:
        conv = unit.conv
        node = self.take("Conv")
        found = (
            node.ints_attr("kernel_shape", ()),
            node.ints_attr("strides", (1, 1)),
            node.ints_attr("pads", (0, 0, 0, 0)),
            node.int_attr("group", 1),
            node.ints_attr("dilations", (1, 1)),
        )
        expected = (conv.kernel_size, conv.stride, conv.padding * 2, conv.groups, (1, 1))
        if found != expected or node.attributes.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
            raise self.fail(node, f"(kernel, strides, pads, group, dilations) {found}, expected {expected}")
        if len(node.inputs) > 2 and node.inputs[2]:
            raise self.fail(node, "a bias, expected none (batch norm follows)")
        conv.weight.data.copy_(self.const(node, 1, tuple(conv.weight.shape)))
        self.batch_norm(unit.bn)
        unit.act.weight.data.copy_(self.const(self.take("PRelu"), 1, (conv.out_channels, 1, 1)).reshape(-1))

    def scalar(self, op_type: str) -> float:
        node = self.take(op_type)
        return float(self.const(node, 1, (1,))[0])

    def done(self) -> None:
        if self.pos != len(self.chain):
            node = self.chain[self.pos]
            raise self.fail(node, "more nodes than SFace's graph has")


def load_sface_net(path: str | Path) -> SFaceNet:
    """`SFaceNet` with the weights of an SFace ONNX file, dequantised to fp32."""
    model = read_model(path)
    constants = fold_constants(model.graph)
    net = SFaceNet()
    r = _Reader(activation_path(model.graph, constants), constants, str(path))
    net.input_shift.fill_(r.scalar("Sub"))
    net.input_scale.fill_(r.scalar("Mul"))
    for unit in net.units:
        r.conv_unit(unit)
    r.batch_norm(net.bn)
    r.take("Dropout")  # identity at inference
    flatten = r.take("Flatten")
    if flatten.int_attr("axis", 1) != 1:
        raise r.fail(flatten, "expected axis 1")
    gemm = r.take("Gemm")
    found = (
        gemm.float_attr("alpha", 1.0),
        gemm.float_attr("beta", 1.0),
        gemm.int_attr("transA", 0),
        gemm.int_attr("transB", 0),
    )
    if found != (1.0, 1.0, 0, 1):
        raise r.fail(gemm, f"(alpha, beta, transA, transB) {found}, expected (1, 1, 0, 1)")
    net.fc.weight.data.copy_(r.const(gemm, 1, tuple(net.fc.weight.shape)))
    net.fc.bias.data.copy_(r.const(gemm, 2, tuple(net.fc.bias.shape)))
    r.batch_norm(net.fc_bn)
    r.done()
    return net.eval().requires_grad_(False)
