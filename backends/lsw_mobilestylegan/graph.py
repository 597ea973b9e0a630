"""MobileStyleGAN's architecture and weights read out of its OpenVINO graphs (`lsw_mobilestylegan.ir`).

The graphs are walked along their data edges, checking each operation against the one the model
computes and reading the constants it uses; a graph of another shape is refused at the first layer
that differs, named. Shape arithmetic (ShapeOf → Gather → Concat → Reshape) is skipped: the static
dimensions written in the file are checked instead. See README.md for what the graphs hold."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch

from lsw_core.errors import CheckpointError
from lsw_mobilestylegan.ir import IRGraph, Layer
from lsw_mobilestylegan.networks import IDWT_MATRIX, IMG_CHANNELS, LRELU_SLOPE

MAX_MAPPING_LAYERS = 64
MAX_BLOCKS = 10
#: A modulation's weight constant: `m.<module>.[conv.]modulation.weight`.
_MODULATION = re.compile(r"^(?:m\.)?((conv1|layers\.\d+\.(?:up|conv1|conv2|to_img))(?:\.conv)?)\.modulation\.weight$")
#: How far a constant may differ from what the port computes (a gain, a Haar filter, a slope).
_TOLERANCE = 1e-6

Tensors = dict[str, torch.Tensor]


class _Walker:
    """Steps along the graph's data path, checking each operation it meets."""

    def __init__(self, graph: IRGraph) -> None:
        self.g = graph

    def fail(self, layer: Layer, expected: str) -> CheckpointError:
        return CheckpointError(
            f"{self.g.where(layer)}: expected {expected}; not a MobileStyleGAN graph this reader knows"
        )

    def next(self, layer: Layer, op: str | tuple[str, ...], index: int = 0) -> tuple[Layer, int]:
        """The one consumer of output `index` of `layer` outside shape arithmetic, of type `op`."""
        ops = (op,) if isinstance(op, str) else op
        found = [(c, i) for c, i in self.g.consumers(layer, index) if c.type != "ShapeOf"]
        if len(found) != 1 or found[0][0].type not in ops:
            names = ", ".join(f"{c.type} {c.name!r}" for c, _ in found) or "nothing"
            raise self.fail(layer, f"its output to feed one {' or '.join(ops)}, found {names}")
        return found[0]

    def other(self, layer: Layer, index: int) -> Layer:
        """The producer of the input of two-input `layer` that is not `index`."""
        return self.g.producer(layer, 1 - index)[0]

    def const(self, layer: Layer, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """A constant, possibly behind Reshape/Squeeze/Unsqueeze (the shape checked when given)."""
        while layer.type in ("Reshape", "Squeeze", "Unsqueeze") and not self.g.is_const(layer):
            layer = self.g.producer(layer, 0)[0]
        if not self.g.is_const(layer):
            raise self.fail(layer, "a constant")
        value = self.g.const(layer)
        if shape is not None and math.prod(value.shape) != math.prod(shape):
            raise self.fail(layer, f"a constant of shape {list(shape)}, found {list(value.shape)}")
        return value.reshape(shape) if shape is not None else value

    def scalar(self, layer: Layer, value: float, what: str) -> None:
        found = self.const(layer).reshape(-1)
        if found.size != 1 or abs(float(found[0]) - value) > _TOLERANCE * max(1.0, abs(value)):
            raise self.fail(layer, f"{what} {value:g}, found {found.tolist()[:4]}")

    def dims(self, layer: Layer, dims: tuple[int, ...], index: int = 0) -> None:
        if tuple(layer.output_dims(index)) != tuple(dims):
            raise self.fail(layer, f"output dims {list(dims)}, found {list(layer.output_dims(index))}")


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _single_parameter(g: IRGraph) -> Layer:
    params = g.of_type("Parameter")
    if len(params) != 1 or len(params[0].output_dims()) != 2 or params[0].output_dims()[0] != 1:
        found = [list(p.output_dims()) for p in params]
        raise CheckpointError(f"{g.source}: expected one input [1, N], found {found}")
    return params[0]


# --- mapping ---------------------------------------------------------------------------------------


def read_mapping(g: IRGraph) -> tuple[dict[str, Any], Tensors]:
    """(sizes, state dict of `MappingNetwork`) of the mapping graph: z → pixel norm → n × (MatMul,
    bias, leaky ReLU 0.2, ×√2) → w."""
    walk = _Walker(g)
    z = _single_parameter(g)
    z_dim = z.output_dims()[1]
    x = _pixel_norm(walk, z)
    state: Tensors = {}
    dim = z_dim
    for i in range(MAX_MAPPING_LAYERS + 1):
        layer, _ = walk.next(x, ("MatMul", "Result"))
        if layer.type == "Result":
            break
        if i == MAX_MAPPING_LAYERS:
            raise walk.fail(layer, f"at most {MAX_MAPPING_LAYERS} layers")
        weight = _matmul_weight(walk, layer, dim)
        out = weight.shape[0]
        add, index = walk.next(layer, "Add")
        bias = walk.const(walk.other(add, index), (out,))
        act, _ = walk.next(add, "PReLU")
        walk.scalar(g.producer(act, 1)[0], LRELU_SLOPE, "a leaky ReLU slope")
        x, index = walk.next(act, "Multiply")
        walk.scalar(walk.other(x, index), math.sqrt(2), "the gain")
        walk.dims(x, (1, out))
        state[f"fc{i}.weight"], state[f"fc{i}.bias"] = _tensor(weight), _tensor(bias)
        dim = out
    num_layers = len(state) // 2
    if num_layers == 0:
        raise CheckpointError(f"{g.source}: expected fully connected layers after the pixel norm, found none")
    if any(state[f"fc{i}.weight"].shape[0] != dim for i in range(num_layers)):
        raise CheckpointError(f"{g.source}: expected every mapping layer to have the output width {dim}")
    return {"z_dim": z_dim, "w_dim": dim, "mapping_layers": num_layers}, state


def _pixel_norm(walk: _Walker, z: Layer) -> Layer:
    """z · (mean(z²) + ε)^-½ as the export writes it: Power 2 → ReduceMean → Add ε → Power ½ → Power -1
    → Multiply 1 → Multiply z. Returns the last Multiply."""
    g = walk.g
    users = {c.type: (c, i) for c, i in g.consumers(z) if c.type != "ShapeOf"}
    if set(users) != {"Power", "Multiply"}:
        raise walk.fail(z, "the pixel norm z · (mean(z²) + 1e-8)^-½ to read it")
    power, _ = users["Power"]
    walk.scalar(g.producer(power, 1)[0], 2.0, "the exponent")
    node, _ = walk.next(power, "ReduceMean")
    axis = walk.const(g.producer(node, 1)[0]).reshape(-1)
    if axis.tolist() not in ([1], [-1]) or node.data.get("keep_dims") != "true":
        raise walk.fail(node, "a mean over the channels, keeping dims")
    node, index = walk.next(node, "Add")
    walk.scalar(walk.other(node, index), 1e-8, "ε")
    for exponent in (0.5, -1.0):
        node, _ = walk.next(node, "Power")
        walk.scalar(g.producer(node, 1)[0], exponent, "the exponent")
    node, index = walk.next(node, "Multiply")
    if walk.other(node, index).type == "Const":
        walk.scalar(walk.other(node, index), 1.0, "the factor")
        node, index = walk.next(node, "Multiply")
    if node.id != users["Multiply"][0].id:
        raise walk.fail(node, "z times its inverse norm")
    return node


def _matmul_weight(walk: _Walker, layer: Layer, in_dim: int) -> np.ndarray:
    if layer.data.get("transpose_a", "false") != "false" or layer.data.get("transpose_b") != "true":
        raise walk.fail(layer, "x · Wᵀ (transpose_b)")
    node = walk.g.producer(layer, 1)[0]
    weight = walk.const(node)
    if weight.ndim != 2 or weight.shape[1] != in_dim:
        raise walk.fail(node, f"a weight [out, {in_dim}], found {list(weight.shape)}")
    return weight


# --- synthesis -------------------------------------------------------------------------------------


class _Styles:
    """The graph's modulations A(w) = w·Aᵀ + b (times a gain where there is one), by the id of the layer
    whose output is the style, and which of them the image path has used."""

    def __init__(self, walk: _Walker, w: Layer, state: Tensors) -> None:
        self.walk, self.state, self.used = walk, state, []
        self.by_node: dict[int, tuple[str, str, float | None, np.ndarray, np.ndarray]] = {}
        g = walk.g
        for mm, _ in g.consumers(w):
            if mm.type == "ShapeOf":
                continue
            if mm.type != "MatMul":
                raise walk.fail(mm, "w to feed only the modulations' MatMuls")
            weight_layer = g.producer(mm, 1)[0]
            match = _MODULATION.match(weight_layer.name)
            if not match:
                raise walk.fail(weight_layer, "a modulation weight named '…<module>.[conv.]modulation.weight'")
            weight = _matmul_weight(walk, mm, w.output_dims()[1])
            add, index = walk.next(mm, "Add")
            bias = walk.const(walk.other(add, index), (weight.shape[0],))
            node, _ = walk.next(add, "Reshape")
            walk.dims(node, (1, weight.shape[0], 1, 1))
            gain = None
            users = [(c, i) for c, i in g.consumers(node) if c.type != "ShapeOf"]
            if len(users) == 1 and users[0][0].type == "Multiply" and g.is_const(walk.other(*users[0])):
                node, index = users[0]
                gain = float(walk.const(walk.other(node, index)).reshape(-1)[0])
            self.by_node[node.id] = (match.group(2), match.group(1), gain, weight, bias)

    def module_at(self, mul: Layer, index: int) -> str | None:
        """The module whose style Multiply `mul` applies to its input `index`, if any."""
        found = self.by_node.get(self.walk.other(mul, index).id)
        return found[0] if found else None

    def take(self, mul: Layer, index: int, module: str, gain: float | None) -> None:
        """Check that Multiply `mul` scales its input `index` by `module`'s style with `gain`; keep its weights."""
        node = self.walk.other(mul, index)
        if node.id not in self.by_node:
            raise self.walk.fail(node, f"the style of {module}: A(w), scaled by a gain")
        name, path, found, weight, bias = self.by_node[node.id]
        if name != module:
            raise self.walk.fail(node, f"the style of {module}, found {name}'s")
        if (gain is None) != (found is None) or (gain is not None and abs(found - gain) > _TOLERANCE):
            raise self.walk.fail(node, f"{module}'s style scaled by {gain}, found {found}")
        self.used.append(module)
        self.state[f"{path}.modulation.weight"], self.state[f"{path}.modulation.bias"] = _tensor(weight), _tensor(bias)

    def check_all_used(self) -> None:
        unused = sorted({v[0] for v in self.by_node.values()} - set(self.used))
        if unused or len(self.used) != len(self.by_node):
            raise CheckpointError(f"{self.walk.g.source}: styles {unused} are not used once each on the image's path")


def read_synthesis(g: IRGraph) -> tuple[dict[str, Any], Tensors]:
    """({"w_dim", "channels"}, state dict of `SynthesisNetwork`) of the synthesis graph, following its
    data path from the constant input to the image."""
    walk = _Walker(g)
    w = _single_parameter(g)
    state: Tensors = {}
    styles = _Styles(walk, w, state)
    inputs = [c for c in g.of_type("Const") if c.name.endswith("input.input")]
    if len(inputs) != 1:
        raise CheckpointError(f"{g.source}: expected one constant input named '…input.input', found {len(inputs)}")
    const = walk.const(inputs[0])
    if const.ndim != 4 or const.shape[0] != 1 or const.shape[2:] != (4, 4):
        raise walk.fail(inputs[0], f"a constant input [1, C, 4, 4], found {list(const.shape)}")
    state["input.input"] = _tensor(const)
    channels = [const.shape[1]]
    x, index = inputs[0], 0
    while x.type != "Multiply":  # the batch repeat of the input
        x, index = walk.next(x, ("Broadcast", "Tile", "Multiply"))
    x = _styled_conv(walk, styles, x, index, "conv1", channels[0], 4, state, depthwise=False)
    for block in range(MAX_BLOCKS + 1):
        mul, index = walk.next(x, "Multiply")
        if (styles.module_at(mul, index) or "").endswith("to_img"):
            break
        if block == MAX_BLOCKS:
            raise walk.fail(mul, f"at most {MAX_BLOCKS} blocks")
        res, c_in = 8 * 2**block, channels[-1]
        if c_in % 4:
            raise walk.fail(mul, f"a channel count divisible by 4 before the wavelet upsampling, found {c_in}")
        styles.take(mul, index, f"layers.{block}.up", None)
        x, index = walk.next(_inverse_haar(walk, mul, c_in // 4, res // 2), "Multiply")
        x = _styled_conv(walk, styles, x, index, f"layers.{block}.conv1", c_in // 4, res, state, depthwise=True)
        c_out = state[f"layers.{block}.conv1.bias"].shape[1]
        x, index = walk.next(x, "Multiply")
        x = _styled_conv(walk, styles, x, index, f"layers.{block}.conv2", c_out, res, state, depthwise=True)
        channels.append(c_out)
    if len(channels) < 2:
        raise walk.fail(mul, "at least one block before the image")
    module, c = f"layers.{len(channels) - 2}.to_img", channels[-1]
    styles.take(mul, index, module, 1 / math.sqrt(c))
    conv, _ = walk.next(mul, "Convolution")
    state[f"{module}.conv.weight"] = _tensor(_conv_weight(walk, conv, (IMG_CHANNELS, c, 1, 1), pad=0))
    add, index = walk.next(conv, "Add")
    state[f"{module}.bias"] = _tensor(walk.const(walk.other(add, index), (1, IMG_CHANNELS, 1, 1)))
    res = 4 * 2 ** (len(channels) - 1)
    walk.dims(add, (1, IMG_CHANNELS, res, res))
    walk.next(_inverse_haar(walk, add, IMG_CHANNELS // 4, res), "Result")
    styles.check_all_used()
    return {"w_dim": w.output_dims()[1], "channels": [int(ch) for ch in channels]}, state


def _styled_conv(walk, styles, mul, index, module, c_in, res, state, *, depthwise: bool) -> Layer:
    """Multiply(style) → [GroupConvolution 3×3 depthwise →] Convolution → Add noise → Add bias → PReLU."""
    g = walk.g
    styles.take(mul, index, module, 1 / math.sqrt(c_in * 9))
    x = mul
    if depthwise:
        x, _ = walk.next(x, "GroupConvolution")
        weight_dw = _conv_weight(walk, x, (c_in, 1, 1, 3, 3), pad=1)
        state[f"{module}.conv.weight_dw"] = _tensor(weight_dw.reshape(c_in, 1, 3, 3))
        x, _ = walk.next(x, "Convolution")
        weight = _conv_weight(walk, x, None, pad=0)
        if weight.ndim != 4 or weight.shape[1:] != (c_in, 1, 1):
            raise walk.fail(x, f"a pointwise weight [C, {c_in}, 1, 1], found {list(weight.shape)}")
    else:
        x, _ = walk.next(x, "Convolution")
        weight = _conv_weight(walk, x, None, pad=1)
        if weight.ndim != 4 or weight.shape[1:] != (c_in, 3, 3):
            raise walk.fail(x, f"a 3×3 weight [C, {c_in}, 3, 3], found {list(weight.shape)}")
    c_out = weight.shape[0]
    state[f"{module}.conv.weight_demod"] = _tensor(weight)
    walk.dims(x, (1, c_out, res, res))
    x, index = walk.next(x, "Add")
    state[f"{module}.noise.const"] = noise = _tensor(walk.const(walk.other(x, index), (1, 1, res, res)))
    # The noise was drawn N(0, 1) and scaled by one learned strength, which the export multiplied in:
    # its root mean square estimates that strength (for noise_mode="random").
    state[f"{module}.noise.strength"] = noise.double().square().mean().sqrt().float()
    x, index = walk.next(x, "Add")
    state[f"{module}.bias"] = _tensor(walk.const(walk.other(x, index), (1, c_out, 1, 1)))
    x, _ = walk.next(x, "PReLU")
    walk.scalar(g.producer(x, 1)[0], LRELU_SLOPE, "a leaky ReLU slope")
    return x


def _attr(layer: Layer, key: str, default: str = "") -> str:
    """Attribute `key` of `layer` without spaces ("1, 1" → "1,1")."""
    return layer.data.get(key, default).replace(" ", "")


def _conv_weight(walk: _Walker, conv: Layer, shape: tuple[int, ...] | None, *, pad: int) -> np.ndarray:
    expected = {"strides": "1,1", "dilations": "1,1", "pads_begin": f"{pad},{pad}", "pads_end": f"{pad},{pad}"}
    for key, value in expected.items():
        if _attr(conv, key) != value:
            raise walk.fail(conv, f"{key} {value}, found {conv.data.get(key)!r}")
    if conv.data.get("auto_pad", "explicit") != "explicit":
        raise walk.fail(conv, "explicit padding")
    return walk.const(walk.g.producer(conv, 1)[0], shape)


def _inverse_haar(walk: _Walker, node: Layer, channels: int, res: int) -> Layer:
    """Check that `node`'s output [1, 4·channels, res, res] goes through the inverse Haar transform the
    port computes (`IDWT_MATRIX`): a VariadicSplit into the LL and detail bands, the details reshaped
    to [B, C, 3, H, W] and split, transposed convolutions of stride 2 along H, sums, transposed
    convolutions along W and a sum. Returns the layer that outputs the image [1, channels, 2res, 2res]."""
    g = walk.g
    walk.dims(node, (1, 4 * channels, res, res))
    split, _ = walk.next(node, "VariadicSplit")
    axis = walk.const(g.producer(split, 1)[0]).reshape(-1).tolist()
    sizes = walk.const(g.producer(split, 2)[0]).reshape(-1).tolist()
    if axis != [1] or sizes != [channels, 3 * channels]:
        raise walk.fail(
            split, f"a split of the channels into {channels} + {3 * channels}, found axis {axis}, sizes {sizes}"
        )
    out, port = split, 0  # follow the LL band to the sum that makes the image
    for _ in range(4):
        out, _ = walk.next(out, ("GroupConvolutionBackpropData", "Add"), port)
        port = 0
        if out.type == "Add" and tuple(out.output_dims()) == (1, channels, 2 * res, 2 * res):
            break
    walk.dims(out, (1, channels, 2 * res, 2 * res))
    kernels = _haar_terms(walk, out, split, channels, depth=0)
    if sorted(kernels) != [0, 1, 2, 3]:
        raise walk.fail(out, f"the four wavelet bands, each once, found bands {sorted(kernels)}")
    matrix = np.stack([kernels[k].reshape(4) for k in range(4)], axis=1)
    if np.abs(matrix - IDWT_MATRIX.numpy()).max() > _TOLERANCE:
        raise walk.fail(out, f"the inverse Haar transform {IDWT_MATRIX.tolist()}, found {matrix.tolist()}")
    return out


def _haar_terms(
    walk: _Walker, node: Layer, split: Layer, channels: int, depth: int, port: int = 0
) -> dict[int, np.ndarray]:
    """{band: 2×2 kernel [p, q]} that output `port` of `node` applies to each wavelet band of `split`."""
    g = walk.g
    if depth > 6:
        raise walk.fail(node, "a shallow inverse wavelet transform")
    if node.type == "Add":
        terms: dict[int, np.ndarray] = {}
        for i in (0, 1):
            source, source_port = g.producer(node, i)
            for band, kernel in _haar_terms(walk, source, split, channels, depth + 1, source_port).items():
                if band in terms:
                    raise walk.fail(node, f"band {band} added once")
                terms[band] = kernel
        return terms
    if node.type == "GroupConvolutionBackpropData":
        unpadded = all(_attr(node, k, "0,0") == "0,0" for k in ("pads_begin", "pads_end", "output_padding"))
        strides = _attr(node, "strides")
        if not unpadded or strides not in ("2,1", "1,2") or _attr(node, "dilations", "1,1") != "1,1":
            raise walk.fail(node, "an unpadded transposed convolution of stride 2 along one axis")
        along_h = strides == "2,1"
        kernel = walk.const(g.producer(node, 1)[0], (channels, 1, 1, 2, 1) if along_h else (channels, 1, 1, 1, 2))
        kernel = kernel.reshape(channels, 2).astype(np.float64)
        if np.abs(kernel - kernel[:1]).max() > _TOLERANCE:
            raise walk.fail(node, "the same filter for every channel")
        source, source_port = g.producer(node, 0)
        out = {}
        for band, k in _haar_terms(walk, source, split, channels, depth + 1, source_port).items():
            if k.shape[0 if along_h else 1] != 1:
                raise walk.fail(node, "one filter per axis")
            out[band] = k * (kernel[0].reshape(2, 1) if along_h else kernel[0].reshape(1, 2))
        return out
    if node.id == split.id and port == 0:
        return {0: np.ones((1, 1))}
    if node.type == "Squeeze":
        band_split, band = g.producer(node, 0)
        if band_split.type == "VariadicSplit":
            axis = walk.const(g.producer(band_split, 1)[0]).reshape(-1).tolist()
            sizes = walk.const(g.producer(band_split, 2)[0]).reshape(-1).tolist()
            reshape = g.producer(band_split, 0)[0]
            source, source_port = g.producer(reshape, 0) if reshape.type == "Reshape" else (reshape, -1)
            if axis == [2] and sizes == [1, 1, 1] and source.id == split.id and source_port == 1:
                if tuple(reshape.output_dims()[1:3]) != (channels, 3):
                    raise walk.fail(reshape, f"the detail bands read as [B, {channels}, 3, H, W]")
                return {1 + band: np.ones((1, 1))}
    raise walk.fail(node, "a wavelet band (a split of the bands) or a transposed convolution of one")
