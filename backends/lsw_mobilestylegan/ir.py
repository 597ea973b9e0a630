"""OpenVINO IR (v10/v11) files read as data: the `.xml` graph parsed by expat with DOCTYPE and
ENTITY declarations refused and element counts bounded, the `.bin` weights read constant by
constant after every shape, size and offset has been checked against the file. Nothing in the files
is executed; `IRGraph` only answers which layers exist, how they connect and what a constant holds."""

from __future__ import annotations

import math
import os
import xml.parsers.expat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import MAX_PARAMETERS

MAX_XML_BYTES = 64 << 20
MAX_ELEMENTS = 1_000_000  # XML elements (the FFHQ synthesis graph has ~14 000)
MAX_DEPTH = 16  # XML nesting (an IR nests 6 deep)
MAX_TEXT = 64  # characters of one element's text (a <dim>)
MAX_LAYERS = 50_000
MAX_RANK = 8
MAX_DIM = 1 << 24
#: Element types a constant may have, as little-endian numpy types.
ELEMENT_TYPES = {
    "f32": np.dtype("<f4"),
    "f16": np.dtype("<f2"),
    "f64": np.dtype("<f8"),
    "i64": np.dtype("<i8"),
    "i32": np.dtype("<i4"),
    "u8": np.dtype("u1"),
    "i8": np.dtype("i1"),
    "boolean": np.dtype("u1"),
}
IR_VERSIONS = ("10", "11")


@attrs.frozen
class Port:
    """One input or output of a layer: its IR port id and its static dimensions."""

    id: int
    dims: tuple[int, ...]


@attrs.frozen
class Layer:
    """One node of the graph: `type` is the OpenVINO operation (Convolution, MatMul, Const, ...),
    `data` its attributes as strings."""

    id: int
    name: str
    type: str
    data: dict[str, str]
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    def output_dims(self, index: int = 0) -> tuple[int, ...]:
        return self.outputs[index].dims


@attrs.frozen
class Constant:
    """Where a `Const` layer's values lie in the `.bin` file, checked against the file's size."""

    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int
    size: int


class IRGraph:
    """The layers and edges of an IR graph, and its constants read on demand from `bin_path`."""

    def __init__(self, layers: dict[int, Layer], edges: list[tuple[int, int, int, int]], bin_path: Path, source: str):
        self.layers, self.bin_path, self.source = layers, bin_path, source
        self._producer: dict[tuple[int, int], tuple[int, int]] = {}
        self._consumers: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for from_layer, from_port, to_layer, to_port in edges:
            for lid in (from_layer, to_layer):
                if lid not in layers:
                    raise CheckpointError(f"{source}: an edge names layer {lid}, which the graph does not have")
            if (to_layer, to_port) in self._producer:
                raise CheckpointError(f"{source}: input port {to_port} of layer {to_layer} has two producers")
            self._producer[(to_layer, to_port)] = (from_layer, from_port)
            self._consumers.setdefault((from_layer, from_port), []).append((to_layer, to_port))
        file_size = bin_path.stat().st_size
        self._constants = {
            lid: _constant(layer, file_size, source) for lid, layer in layers.items() if layer.type == "Const"
        }
        total = sum(math.prod(c.shape) for c in self._constants.values())
        if total > MAX_PARAMETERS:
            raise CheckpointError(
                f"{source}: its constants hold {total:,} values; refused (more than {MAX_PARAMETERS:,}, a damaged or crafted file)"
            )

    def where(self, layer: Layer) -> str:
        return f"{self.source}: layer {layer.id} ({layer.type} {layer.name!r})"

    def of_type(self, op: str) -> list[Layer]:
        return [layer for layer in self.layers.values() if layer.type == op]

    def producer(self, layer: Layer, index: int) -> tuple[Layer, int]:
        """The layer (and its output index) feeding input `index` of `layer`."""
        if index >= len(layer.inputs):
            raise CheckpointError(
                f"{self.where(layer)}: expected at least {index + 1} inputs, found {len(layer.inputs)}"
            )
        key = (layer.id, layer.inputs[index].id)
        if key not in self._producer:
            raise CheckpointError(f"{self.where(layer)}: input {index} is not connected")
        from_id, from_port = self._producer[key]
        source = self.layers[from_id]
        return source, _port_index(source.outputs, from_port, self.where(source))

    def consumers(self, layer: Layer, index: int = 0) -> list[tuple[Layer, int]]:
        """The layers (and their input indices) reading output `index` of `layer`."""
        if index >= len(layer.outputs):
            raise CheckpointError(
                f"{self.where(layer)}: expected at least {index + 1} outputs, found {len(layer.outputs)}"
            )
        found = self._consumers.get((layer.id, layer.outputs[index].id), [])
        return [(self.layers[lid], _port_index(self.layers[lid].inputs, port, self.where(self.layers[lid])))
                for lid, port in found]  # fmt: skip

    def const(self, layer: Layer) -> np.ndarray:
        """The values of the `Const` layer, read from the `.bin` file (bounds checked at load)."""
        if layer.id not in self._constants:
            raise CheckpointError(f"{self.where(layer)}: expected a constant")
        c = self._constants[layer.id]
        with open(self.bin_path, "rb") as f:
            f.seek(c.offset)
            raw = f.read(c.size)
        if len(raw) != c.size:
            raise CheckpointError(f"{self.where(layer)}: the weights file ended early (it changed while being read)")
        return np.frombuffer(raw, dtype=c.dtype).reshape(c.shape).copy()

    def is_const(self, layer: Layer) -> bool:
        return layer.id in self._constants


def read_ir(xml_path: str | os.PathLike, bin_path: str | os.PathLike | None = None) -> IRGraph:
    """The graph of the IR file `xml_path`, its weights in `bin_path` (default: beside it, `.bin`)."""
    xml_path = Path(xml_path)
    bin_path = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    source = str(xml_path)
    for path, what in ((xml_path, "graph (.xml)"), (bin_path, "weights (.bin)")):
        if not path.is_file():
            raise CheckpointError(f"{path}: no such OpenVINO IR {what} file")
    size = xml_path.stat().st_size
    if size > MAX_XML_BYTES:
        raise CheckpointError(f"{source}: {size / 1e6:,.0f} MB of XML; refused (more than {MAX_XML_BYTES >> 20} MiB)")
    root = parse_xml(xml_path.read_bytes(), source)
    if root.tag != "net" or root.attrs.get("version") not in IR_VERSIONS:
        found = f"<{root.tag} version={root.attrs.get('version')!r}>"
        raise CheckpointError(f'{source}: expected an OpenVINO IR <net version="10"> (or 11), found {found}')
    layers: dict[int, Layer] = {}
    for el in _children(root, "layers", source):
        if el.tag != "layer":
            continue
        layer = _layer(el, source)
        if layer.id in layers:
            raise CheckpointError(f"{source}: two layers have id {layer.id}")
        layers[layer.id] = layer
        if len(layers) > MAX_LAYERS:
            raise CheckpointError(f"{source}: more than {MAX_LAYERS} layers; refused")
    edges = [
        tuple(
            _int(el.attrs, key, source, "edge", high=1 << 31)
            for key in ("from-layer", "from-port", "to-layer", "to-port")
        )
        for el in _children(root, "edges", source)
        if el.tag == "edge"
    ]
    return IRGraph(layers, edges, bin_path, source)


# --- XML -------------------------------------------------------------------------------------------


@attrs.define
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = attrs.field(factory=list)
    text: str = ""


def parse_xml(data: bytes, source: str) -> Element:
    """The element tree of `data`. Refuses DOCTYPE and ENTITY declarations (no entity can expand),
    more than `MAX_ELEMENTS` elements, nesting deeper than `MAX_DEPTH` and long texts."""
    parser = xml.parsers.expat.ParserCreate()
    stack: list[Element] = []
    root: list[Element] = []
    count = 0

    def refuse(what: str):
        def handler(*_args: Any) -> None:
            raise CheckpointError(f"{source}: refused: the XML declares {what}, which an IR never needs")

        return handler

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise CheckpointError(f"{source}: more than {MAX_ELEMENTS:,} XML elements; refused")
        if len(stack) >= MAX_DEPTH:
            raise CheckpointError(f"{source}: XML nested deeper than {MAX_DEPTH}; refused")
        el = Element(tag, dict(attributes))
        (stack[-1].children if stack else root).append(el)
        stack.append(el)

    def end(_tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack and data.strip():
            stack[-1].text += data
            if len(stack[-1].text) > MAX_TEXT:
                raise CheckpointError(f"{source}: <{stack[-1].tag}> holds more than {MAX_TEXT} characters; refused")

    parser.StartDoctypeDeclHandler = refuse("a DOCTYPE")
    parser.EntityDeclHandler = refuse("an ENTITY")
    parser.ExternalEntityRefHandler = refuse("an external entity")
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise CheckpointError(f"{source}: not a well-formed XML file ({exc})") from None
    if len(root) != 1:
        raise CheckpointError(f"{source}: expected one root element, found {len(root)}")
    return root[0]


def _children(root: Element, tag: str, source: str) -> list[Element]:
    found = [el for el in root.children if el.tag == tag]
    if len(found) != 1:
        raise CheckpointError(f"{source}: expected one <{tag}> section, found {len(found)}")
    return found[0].children


def _layer(el: Element, source: str) -> Layer:
    lid = _int(el.attrs, "id", source, "layer", high=1 << 31)
    where = f"{source}: layer {lid}"
    data = next((c.attrs for c in el.children if c.tag == "data"), {})
    inputs, outputs = (tuple(_ports(el, section, where)) for section in ("input", "output"))
    return Layer(lid, el.attrs.get("name", ""), el.attrs.get("type", ""), dict(data), inputs, outputs)


def _ports(el: Element, section: str, where: str) -> Iterator[Port]:
    for part in (c for c in el.children if c.tag == section):
        for port in (c for c in part.children if c.tag == "port"):
            dims = [c for c in port.children if c.tag == "dim"]
            if len(dims) > MAX_RANK:
                raise CheckpointError(f"{where}: a port of rank {len(dims)}; expected at most {MAX_RANK}")
            yield Port(
                _int(port.attrs, "id", where, "port", high=1 << 16),
                tuple(_int({"dim": d.text.strip()}, "dim", where, "port", high=MAX_DIM) for d in dims),
            )


def _port_index(ports: tuple[Port, ...], port_id: int, where: str) -> int:
    for i, port in enumerate(ports):
        if port.id == port_id:
            return i
    raise CheckpointError(f"{where}: an edge names port {port_id}, which the layer does not have")


def _int(attributes: dict[str, str], key: str, where: str, what: str, *, high: int) -> int:
    value = attributes.get(key)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckpointError(f"{where}: {what} attribute {key!r}: expected a whole number, found {value!r}") from None
    if not 0 <= number <= high:
        raise CheckpointError(f"{where}: {what} attribute {key!r}: expected 0 to {high}, found {number}")
    return number


def _constant(layer: Layer, file_size: int, source: str) -> Constant:
    where = f"{source}: layer {layer.id} (Const {layer.name!r})"
    kind = layer.data.get("element_type")
    if kind not in ELEMENT_TYPES:
        raise CheckpointError(f"{where}: element type {kind!r}; expected one of {sorted(ELEMENT_TYPES)}")
    dtype = ELEMENT_TYPES[kind]
    text = layer.data.get("shape", "").strip()
    parts = [p.strip() for p in text.split(",")] if text else []
    if len(parts) > MAX_RANK:
        raise CheckpointError(f"{where}: a shape of rank {len(parts)}; expected at most {MAX_RANK}")
    shape = tuple(_int({"shape": p}, "shape", where, "data", high=MAX_DIM) for p in parts)
    count = math.prod(shape)
    if count > MAX_PARAMETERS:
        raise CheckpointError(
            f"{where}: shape {list(shape)} holds {count:,} values; refused (a damaged or crafted file)"
        )
    if len(layer.outputs) != 1 or layer.outputs[0].dims != shape:
        found = [list(p.dims) for p in layer.outputs]
        raise CheckpointError(f"{where}: declared shape {list(shape)} but its output port has {found}")
    offset = _int(layer.data, "offset", where, "data", high=1 << 62)
    size = _int(layer.data, "size", where, "data", high=1 << 62)
    if size != count * dtype.itemsize:
        raise CheckpointError(f"{where}: {size} bytes for {count} values of {kind}; expected {count * dtype.itemsize}")
    if offset + size > file_size:
        raise CheckpointError(
            f"{where}: bytes {offset}–{offset + size} lie past the end of the weights file ({file_size} bytes): "
            "truncated or not this graph's .bin"
        )
    return Constant(dtype, shape, offset, size)
