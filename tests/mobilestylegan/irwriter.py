"""Writes a MobileStyleGAN generator as OpenVINO IR v10 files with the structure of the FFHQ export
(the same operations, attributes and names, shape arithmetic left out), so that the IR reader can be
tested on small generators the tests make, and OpenVINO can run them when it is installed."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import torch

from lsw_mobilestylegan.generator import MobileStyleGANGenerator
from lsw_mobilestylegan.networks import LRELU_SLOPE

_TYPES = {np.dtype("float32"): ("f32", "FP32"), np.dtype("int64"): ("i64", "I64")}


class IRBuilder:
    """Layers, edges and a weights blob; `op` returns (layer id, output port) handles."""

    def __init__(self, name: str) -> None:
        self.name, self.layers, self.edges, self.blob = name, [], [], bytearray()
        self.dims: dict[tuple[int, int], tuple[tuple[int, ...], str]] = {}

    def _add(self, type_: str, name: str, data: dict, inputs: list, outputs: list[tuple[tuple[int, ...], str]]) -> int:
        lid = len(self.layers)
        self.layers.append((lid, name or f"{type_}_{lid}", type_, data, [self.dims[i] for i in inputs], outputs))
        for port, src in enumerate(inputs):
            self.edges.append((src[0], src[1], lid, port))
        for port, out in enumerate(outputs):
            self.dims[(lid, len(inputs) + port)] = out
        return lid

    def const(self, value, name: str = "", dtype=np.float32) -> tuple[int, int]:
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        kind, precision = _TYPES[array.dtype]
        data = {"element_type": kind, "shape": ", ".join(map(str, array.shape)), "offset": str(len(self.blob)),
                "size": str(array.nbytes)}  # fmt: skip
        self.blob += array.tobytes()
        return (self._add("Const", name, data, [], [(array.shape, precision)]), 0)

    def parameter(self, name: str, shape: tuple[int, ...]) -> tuple[int, int]:
        data = {"shape": ", ".join(map(str, shape)), "element_type": "f32"}
        return (self._add("Parameter", name, data, [], [(shape, "FP32")]), 0)

    def op(
        self, type_: str, inputs: list, shapes: list[tuple[int, ...]], data: dict | None = None, name: str = ""
    ) -> list:
        lid = self._add(type_, name, data or {}, inputs, [(tuple(s), "FP32") for s in shapes])
        return [(lid, len(inputs) + i) for i in range(len(shapes))]

    def result(self, src: tuple[int, int], name: str) -> None:
        self._add("Result", name, {}, [src], [])

    def shape(self, src: tuple[int, int]) -> tuple[int, ...]:
        return self.dims[src][0]

    def write(self, xml_path: Path) -> None:
        lines = ['<?xml version="1.0" ?>', f'<net name="{self.name}" version="10">', "\t<layers>"]
        for lid, name, type_, data, inputs, outputs in self.layers:
            lines.append(f'\t\t<layer id="{lid}" name={quoteattr(name)} type="{type_}" version="opset1">')
            if data:
                lines.append("\t\t\t<data " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in data.items()) + "/>")
            for section, ports, first in (("input", inputs, 0), ("output", outputs, len(inputs))):
                if ports:
                    lines.append(f"\t\t\t<{section}>")
                    for i, (dims, precision) in enumerate(ports):
                        lines.append(
                            f'\t\t\t\t<port id="{first + i}" precision="{precision}">'
                            + "".join(f"<dim>{d}</dim>" for d in dims)
                            + "</port>"
                        )
                    lines.append(f"\t\t\t</{section}>")
            lines.append("\t\t</layer>")
        lines += ["\t</layers>", "\t<edges>"]
        lines += [
            f'\t\t<edge from-layer="{a}" from-port="{b}" to-layer="{c}" to-port="{d}"/>' for a, b, c, d in self.edges
        ]
        lines += ["\t</edges>", "</net>", ""]
        xml_path.write_text("\n".join(lines))
        xml_path.with_suffix(".bin").write_bytes(bytes(self.blob))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def write_mapping(G: MobileStyleGANGenerator, path: Path) -> None:
    b = IRBuilder("MappingNetwork")
    z = b.parameter("var", (1, G.z_dim))
    sq = b.op("Power", [z, b.const(np.full((1, 1), 2.0))], [(1, G.z_dim)], {"auto_broadcast": "numpy"})[0]
    mean = b.op("ReduceMean", [sq, b.const([1], dtype=np.int64)], [(1, 1)], {"keep_dims": "true"})[0]
    x = b.op("Add", [mean, b.const(np.full((1, 1), 1e-8))], [(1, 1)], {"auto_broadcast": "numpy"})[0]
    for exponent in (0.5, -1.0):
        x = b.op("Power", [x, b.const(np.full((1, 1), exponent))], [(1, 1)], {"auto_broadcast": "numpy"})[0]
    x = b.op("Multiply", [b.const(np.ones((1, 1))), x], [(1, 1)], {"auto_broadcast": "numpy"})[0]
    x = b.op("Multiply", [z, x], [(1, G.z_dim)], {"auto_broadcast": "numpy"})[0]
    for i in range(G.mapping_net.num_layers):
        fc = getattr(G.mapping_net, f"fc{i}")
        out = fc.weight.shape[0]
        x = b.op("MatMul", [x, b.const(_np(fc.weight))], [(1, out)], {"transpose_a": "false", "transpose_b": "true"})[0]
        x = b.op("Add", [x, b.const(_np(fc.bias))], [(1, out)], {"auto_broadcast": "numpy"})[0]
        x = b.op("PReLU", [x, b.const([LRELU_SLOPE])], [(1, out)])[0]
        x = b.op("Multiply", [x, b.const(np.full((1, 1), math.sqrt(2)))], [(1, out)], {"auto_broadcast": "numpy"})[0]
    b.result(x, "style/sink_port_0")
    b.write(path)


def write_synthesis(G: MobileStyleGANGenerator, path: Path) -> None:
    S = G.synthesis_net
    b = IRBuilder("SynthesisNetwork")
    w = b.parameter("style", (1, G.w_dim))
    conv2d = {"strides": "1, 1", "dilations": "1, 1", "auto_pad": "explicit"}

    def style(name: str, layer, gain: float | None):
        c = layer.modulation.weight.shape[0]
        s = b.op("MatMul", [w, b.const(_np(layer.modulation.weight), f"m.{name}.modulation.weight")], [(1, c)],
                 {"transpose_a": "false", "transpose_b": "true"})[0]  # fmt: skip
        s = b.op(
            "Add",
            [s, b.const(_np(layer.modulation.bias)[None], f"m.{name}.modulation.bias")],
            [(1, c)],
            {"auto_broadcast": "numpy"},
        )[0]
        s = b.op("Reshape", [s, b.const([1, -1, 1, 1], dtype=np.int64)], [(1, c, 1, 1)], {"special_zero": "true"})[0]
        if gain is not None:
            s = b.op("Multiply", [s, b.const([gain])], [(1, c, 1, 1)], {"auto_broadcast": "numpy"})[0]
        return s

    def styled_conv(x, name: str, conv) -> tuple:
        _, c_in, h, _ = b.shape(x)
        x = b.op(
            "Multiply",
            [style(f"{name}.conv", conv.conv, conv.conv.scale), x],
            [b.shape(x)],
            {"auto_broadcast": "numpy"},
        )[0]
        weight = _np(conv.conv.weight_demod)
        if conv.conv.depthwise:
            dw = b.const(_np(conv.conv.weight_dw)[:, None], f"m.{name}.conv.weight_dw")
            x = b.op("GroupConvolution", [x, dw], [b.shape(x)], {**conv2d, "pads_begin": "1, 1", "pads_end": "1, 1"})[0]
            pads = "0, 0"
        else:
            pads = "1, 1"
        shape = (1, weight.shape[0], h, h)
        x = b.op("Convolution", [x, b.const(weight)], [shape], {**conv2d, "pads_begin": pads, "pads_end": pads})[0]
        x = b.op("Add", [x, b.const(_np(conv.noise.const))], [shape], {"auto_broadcast": "numpy"})[0]
        x = b.op("Add", [x, b.const(_np(conv.bias), f"m.{name}.bias")], [shape], {"auto_broadcast": "numpy"})[0]
        return b.op("PReLU", [x, b.const([LRELU_SLOPE])], [shape])[0]

    def inverse_haar(x):
        _, c4, h, w_ = b.shape(x)
        c = c4 // 4
        low, high = b.op("VariadicSplit", [x, b.const(1, dtype=np.int64), b.const([c, 3 * c], dtype=np.int64)],
                         [(1, c, h, w_), (1, 3 * c, h, w_)])  # fmt: skip
        high = b.op(
            "Reshape", [high, b.const([1, c, 3, h, w_], dtype=np.int64)], [(1, c, 3, h, w_)], {"special_zero": "true"}
        )[0]
        parts = b.op(
            "VariadicSplit",
            [high, b.const(2, dtype=np.int64), b.const([1, 1, 1], dtype=np.int64)],
            [(1, c, 1, h, w_)] * 3,
        )
        bands = [low] + [b.op("Squeeze", [p, b.const([2], dtype=np.int64)], [(1, c, h, w_)])[0] for p in parts]
        lo, hi = np.array([1, 1]) / math.sqrt(2), np.array([1, -1]) / math.sqrt(2)
        deconv = {
            "dilations": "1, 1",
            "pads_begin": "0, 0",
            "pads_end": "0, 0",
            "auto_pad": "explicit",
            "output_padding": "0, 0",
        }

        def up(x, f, along_h):
            kernel = np.tile(f.reshape((1, 1, 1, 2, 1) if along_h else (1, 1, 1, 1, 2)), (c, 1, 1, 1, 1))
            _, _, hh, ww = b.shape(x)
            shape = (1, c, 2 * hh, ww) if along_h else (1, c, hh, 2 * ww)
            return b.op("GroupConvolutionBackpropData", [x, b.const(kernel)], [shape],
                        {**deconv, "strides": "2, 1" if along_h else "1, 2"})[0]  # fmt: skip

        halves = []
        for (band_a, f_a), (band_b, f_b), g in (((0, lo), (1, hi), lo), ((2, lo), (3, hi), hi)):
            s = b.op("Add", [up(bands[band_a], f_a, True), up(bands[band_b], f_b, True)], [(1, c, 2 * h, w_)])[0]
            halves.append(up(s, g, False))
        return b.op("Add", halves, [(1, c, 2 * h, 2 * w_)])[0]

    x = b.const(_np(S.input.input), "m.input.input")
    x = styled_conv(x, "conv1", S.conv1)
    for i, block in enumerate(S.layers):
        x = b.op("Multiply", [style(f"layers.{i}.up", block.up, None), x], [b.shape(x)], {"auto_broadcast": "numpy"})[0]
        x = inverse_haar(x)
        x = styled_conv(x, f"layers.{i}.conv1", block.conv1)
        x = styled_conv(x, f"layers.{i}.conv2", block.conv2)
    last, name = S.layers[-1], f"layers.{len(S.layers) - 1}.to_img"
    _, c, h, _ = b.shape(x)
    x = b.op(
        "Multiply",
        [style(f"{name}.conv", last.to_img.conv, last.to_img.conv.scale), x],
        [b.shape(x)],
        {"auto_broadcast": "numpy"},
    )[0]
    x = b.op("Convolution", [x, b.const(_np(last.to_img.conv.weight), f"m.{name}.conv.weight")], [(1, 12, h, h)],
             {**conv2d, "pads_begin": "0, 0", "pads_end": "0, 0"})[0]  # fmt: skip
    x = b.op(
        "Add", [x, b.const(_np(last.to_img.bias), f"m.{name}.bias")], [(1, 12, h, h)], {"auto_broadcast": "numpy"}
    )[0]
    b.result(inverse_haar(x), "img/sink_port_0")
    b.write(path)


def write_ir(G: MobileStyleGANGenerator, folder: Path) -> Path:
    """`folder` with MappingNetwork.{xml,bin} and SynthesisNetwork.{xml,bin} of `G`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_mapping(G, folder / "MappingNetwork.xml")
    write_synthesis(G, folder / "SynthesisNetwork.xml")
    return folder
