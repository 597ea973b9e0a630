"""A bounded reader of ONNX model files (`onnx.proto`, protobuf wire format parsed by `protowire`).

It reads the parts of a model needed to rebuild an inference graph: the opset, the graph's nodes
(op type, inputs, outputs, scalar and list attributes), its initializers as numpy arrays, and the
declared inputs and outputs with their shapes. Every count, dimension and tensor size is checked
before anything is allocated; nested graphs (control flow) and external tensor data (files beside
the model) are refused, so reading a file executes nothing and opens nothing else.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import numpy as np

from lsw_core.errors import CheckpointError
from lsw_sface.protowire import BYTES, FIXED32, VARINT, Message, WireError, expect_wire, signed64

MAX_FILE_BYTES = 256 << 20
MAX_NODES = 20_000
MAX_INITIALIZERS = 20_000
MAX_ATTRIBUTES = 64
MAX_NODE_IO = 64
MAX_RANK = 8
MAX_TENSOR_ELEMENTS = 1 << 26
MAX_LIST = 1 << 16
MAX_VALUE_INFOS = 20_000

#: TensorProto.DataType → numpy dtype of the values (raw_data is little-endian).
DTYPES = {
    1: "<f4",  # FLOAT
    2: "u1",  # UINT8
    3: "i1",  # INT8
    4: "<u2",  # UINT16
    5: "<i2",  # INT16
    6: "<i4",  # INT32
    7: "<i8",  # INT64
    9: "?",  # BOOL
    10: "<f2",  # FLOAT16
    11: "<f8",  # DOUBLE
    12: "<u4",  # UINT32
    13: "<u8",  # UINT64
}
# AttributeProto.AttributeType
A_FLOAT, A_INT, A_STRING, A_TENSOR, A_GRAPH, A_FLOATS, A_INTS, A_STRINGS = 1, 2, 3, 4, 5, 6, 7, 8


@attrs.frozen
class Node:
    """One operator: its type, domain ("" for the default ONNX domain), name, input and output
    value names, and attributes (int, float, str, numpy array, or lists of those)."""

    op_type: str
    domain: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict

    def int_attr(self, name: str, default: int) -> int:
        """An integer attribute (`default` when absent); anything else is a `CheckpointError`."""
        return self._typed(name, default, int, "an integer")

    def float_attr(self, name: str, default: float) -> float:
        return float(self._typed(name, default, (int, float), "a number"))

    def ints_attr(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        value = self.attributes.get(name, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, int) for v in value):
            raise CheckpointError(
                f"{self.op_type} {self.name!r}: attribute {name!r} should be integers, got {value!r:.80}"
            )
        return tuple(value)

    def _typed(self, name: str, default, kind, what: str):
        value = self.attributes.get(name, default)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(
                f"{self.op_type} {self.name!r}: attribute {name!r} should be {what}, got {value!r:.80}"
            )
        return value


@attrs.frozen
class ValueInfo:
    """A declared graph input or output: name, element type and shape (ints, or names of symbolic
    dimensions)."""

    name: str
    elem_type: int
    shape: tuple[int | str, ...]


@attrs.frozen
class Graph:
    name: str
    nodes: tuple[Node, ...]
    initializers: dict[str, np.ndarray]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]


@attrs.frozen
class Model:
    ir_version: int
    opsets: dict[str, int]
    producer: str
    graph: Graph


# ---------------------------------------------------------------------------------------------
# Tensors


#: The typed TensorProto field that may hold each data type's values (when raw_data is not used).
TYPED_FIELD = {1: 4, 2: 5, 3: 5, 4: 5, 5: 5, 6: 5, 9: 5, 10: 5, 7: 7, 11: 10, 12: 11, 13: 11}


def _numpy_from_typed(field: int, msg: Message, limit: int) -> np.ndarray:
    if field == 4:  # float_data
        return msg.packed_fixed("<f4", limit)
    if field == 10:  # double_data
        return msg.packed_fixed("<f8", limit)
    values = msg.packed_varints(limit)  # int32_data, int64_data: two's complement; uint64_data
    if field in (5, 7):
        return np.array([signed64(v) for v in values], dtype=np.int64)
    return np.array(values, dtype=np.uint64)


def read_tensor(msg: Message) -> tuple[str, np.ndarray]:
    """A TensorProto → (name, array shaped by its dims)."""
    name, dims, data_type, raw, typed, external = "", [], None, None, [], False
    for number, wire, value in msg.fields():
        if number == 1:  # dims: packed or one varint per record
            if wire == BYTES:
                dims += [signed64(v) for v in value.packed_varints(MAX_RANK + 1)]
            else:
                expect_wire(msg, number, wire, VARINT, "tensor dims")
                dims.append(signed64(value))
        elif number == 2:
            expect_wire(msg, number, wire, VARINT, "tensor data_type")
            data_type = value
        elif number == 8:
            expect_wire(msg, number, wire, BYTES, "tensor name")
            name = value.text()
        elif number == 9:
            expect_wire(msg, number, wire, BYTES, "tensor raw_data")
            raw = value
        elif number in (4, 5, 7, 10, 11):
            if wire != BYTES:
                raise msg.fail("unpacked repeated tensor values are not supported")
            typed.append((number, value))
        elif number == 6:
            raise msg.fail("string tensors are not supported")
        elif number == 13 or (number == 14 and value == 1):
            external = True
        if len(dims) > MAX_RANK:
            raise msg.fail(f"tensor of rank above {MAX_RANK}")
    label = f"tensor {name!r}" if name else "tensor"
    if external:
        raise CheckpointError(f"{msg.path}: {label} keeps its data in an external file; expected it inside the model")
    if data_type not in DTYPES:
        raise CheckpointError(f"{msg.path}: {label} has data type {data_type}, expected one of {sorted(DTYPES)}")
    if any(d < 0 or d > MAX_TENSOR_ELEMENTS for d in dims):
        raise CheckpointError(f"{msg.path}: {label} has dims {dims}, expected sizes in [0, {MAX_TENSOR_ELEMENTS}]")
    count = math.prod(dims)
    if count > MAX_TENSOR_ELEMENTS:
        raise CheckpointError(f"{msg.path}: {label} of {count} elements, expected at most {MAX_TENSOR_ELEMENTS}")
    dtype = np.dtype(DTYPES[data_type])
    if raw is not None:
        if typed:
            raise msg.fail(f"{label} has both raw_data and typed values")
        if len(raw) != count * dtype.itemsize:
            raise CheckpointError(
                f"{msg.path}: {label} with dims {dims} needs {count * dtype.itemsize} bytes of raw_data, found {len(raw)}"
            )
        array = np.frombuffer(raw.raw(), dtype=dtype).copy()
    else:
        if any(f != TYPED_FIELD[data_type] for f, _ in typed):
            raise msg.fail(f"{label} of data type {data_type} stores values in field {typed[0][0]}")
        parts = [_numpy_from_typed(f, m, count) for f, m in typed]
        array = np.concatenate(parts) if parts else np.zeros(0)
        if array.size != count:
            raise CheckpointError(f"{msg.path}: {label} with dims {dims} holds {array.size} values, expected {count}")
        if data_type == 10:  # float16 travels as its 16-bit pattern in int32_data
            lo, hi = 0, 0xFFFF
        else:
            lo, hi = _range(dtype)
        if array.size and (array.min() < lo or array.max() > hi):
            raise CheckpointError(f"{msg.path}: {label} has values outside the range of {dtype}")
        array = array.astype(np.uint16).view(np.float16) if data_type == 10 else array.astype(dtype)
    return name, array.astype(dtype.newbyteorder("=")).reshape(dims)


def _range(dtype: np.dtype) -> tuple[float, float]:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min, info.max
    if dtype.kind == "b":
        return 0, 1
    return -math.inf, math.inf


# ---------------------------------------------------------------------------------------------
# Nodes, value infos, graph, model


def _attribute(msg: Message) -> tuple[str, object]:
    name, kind, scalars, lists = "", None, {}, {}
    for number, wire, value in msg.fields():
        if number == 1:
            expect_wire(msg, number, wire, BYTES, "attribute name")
            name = value.text()
        elif number == 20:
            expect_wire(msg, number, wire, VARINT, "attribute type")
            kind = value
        elif number == 2:
            expect_wire(msg, number, wire, FIXED32, "attribute f")
            scalars[A_FLOAT] = float(np.frombuffer(value, "<f4")[0])
        elif number == 3:
            expect_wire(msg, number, wire, VARINT, "attribute i")
            scalars[A_INT] = signed64(value)
        elif number == 4:
            expect_wire(msg, number, wire, BYTES, "attribute s")
            scalars[A_STRING] = value.text()
        elif number == 5:
            expect_wire(msg, number, wire, BYTES, "attribute t")
            scalars[A_TENSOR] = read_tensor(value)[1]
        elif number in (6, 11):
            raise msg.fail(f"attribute {name!r} holds a subgraph; graphs with control flow are not supported")
        elif number == 7:
            if wire == BYTES:
                lists.setdefault(A_FLOATS, []).extend(value.packed_fixed("<f4", MAX_LIST).tolist())
            else:
                expect_wire(msg, number, wire, FIXED32, "attribute floats")
                lists.setdefault(A_FLOATS, []).append(float(np.frombuffer(value, "<f4")[0]))
        elif number == 8:
            if wire == BYTES:
                lists.setdefault(A_INTS, []).extend(signed64(v) for v in value.packed_varints(MAX_LIST))
            else:
                expect_wire(msg, number, wire, VARINT, "attribute ints")
                lists.setdefault(A_INTS, []).append(signed64(value))
        elif number == 9:
            expect_wire(msg, number, wire, BYTES, "attribute strings")
            lists.setdefault(A_STRINGS, []).append(value.text())
        if sum(len(v) for v in lists.values()) > MAX_LIST:
            raise msg.fail(f"attribute {name!r} with more than {MAX_LIST} values")
    if kind is None and len(scalars) + len(lists) == 1:  # old files may leave the type out
        kind = next(iter(scalars or lists))
    if kind in scalars:
        return name, scalars[kind]
    if kind in (A_FLOATS, A_INTS, A_STRINGS):
        return name, lists.get(kind, [])
    raise msg.fail(f"attribute {name!r} of type {kind} is not supported")


def _node(msg: Message) -> Node:
    inputs, outputs, attributes, op_type, domain, name = [], [], {}, "", "", ""
    for number, wire, value in msg.fields():
        if number in (1, 2):
            expect_wire(msg, number, wire, BYTES, "node input/output")
            (inputs if number == 1 else outputs).append(value.text())
            if len(inputs) > MAX_NODE_IO or len(outputs) > MAX_NODE_IO:
                raise msg.fail(f"node with more than {MAX_NODE_IO} inputs or outputs")
        elif number == 3:
            expect_wire(msg, number, wire, BYTES, "node name")
            name = value.text()
        elif number == 4:
            expect_wire(msg, number, wire, BYTES, "node op_type")
            op_type = value.text()
        elif number == 7:
            expect_wire(msg, number, wire, BYTES, "node domain")
            domain = value.text()
        elif number == 5:
            expect_wire(msg, number, wire, BYTES, "node attribute")
            if len(attributes) >= MAX_ATTRIBUTES:
                raise msg.fail(f"node with more than {MAX_ATTRIBUTES} attributes")
            key, val = _attribute(value)
            attributes[key] = val
    if not op_type:
        raise msg.fail("node without an op_type")
    return Node(op_type, domain, name, tuple(inputs), tuple(outputs), attributes)


def _value_info(msg: Message) -> ValueInfo:
    name, elem_type, shape = "", 0, []
    for number, wire, value in msg.fields():
        if number == 1:
            expect_wire(msg, number, wire, BYTES, "value name")
            name = value.text()
        elif number == 2:  # TypeProto
            expect_wire(msg, number, wire, BYTES, "value type")
            for n2, w2, tensor_type in value.fields():
                if n2 != 1:
                    continue  # sequences, maps, optionals: no shape to read
                expect_wire(value, n2, w2, BYTES, "tensor_type")
                for n3, w3, v3 in tensor_type.fields():
                    if n3 == 1:
                        expect_wire(tensor_type, n3, w3, VARINT, "elem_type")
                        elem_type = v3
                    elif n3 == 2:
                        expect_wire(tensor_type, n3, w3, BYTES, "shape")
                        for n4, w4, dim in v3.fields():
                            if n4 != 1:
                                continue
                            expect_wire(v3, n4, w4, BYTES, "dim")
                            if len(shape) >= MAX_RANK:
                                raise v3.fail(f"value {name!r} of rank above {MAX_RANK}")
                            size: int | str = "?"
                            for n5, w5, v5 in dim.fields():
                                if n5 == 1 and w5 == VARINT:
                                    size = signed64(v5)
                                elif n5 == 2 and w5 == BYTES:
                                    size = v5.text(256)
                            shape.append(size)
    return ValueInfo(name, elem_type, tuple(shape))


def _graph(msg: Message) -> Graph:
    name, nodes, initializers, inputs, outputs = "", [], {}, [], []
    for number, wire, value in msg.fields():
        if number == 1:
            expect_wire(msg, number, wire, BYTES, "graph node")
            if len(nodes) >= MAX_NODES:
                raise msg.fail(f"graph with more than {MAX_NODES} nodes")
            nodes.append(_node(value))
        elif number == 2:
            expect_wire(msg, number, wire, BYTES, "graph name")
            name = value.text()
        elif number == 5:
            expect_wire(msg, number, wire, BYTES, "graph initializer")
            if len(initializers) >= MAX_INITIALIZERS:
                raise msg.fail(f"graph with more than {MAX_INITIALIZERS} initializers")
            key, array = read_tensor(value)
            if key in initializers:
                raise msg.fail(f"initializer {key!r} given twice")
            initializers[key] = array
        elif number == 15:
            raise msg.fail("sparse initializers are not supported")
        elif number in (11, 12):
            expect_wire(msg, number, wire, BYTES, "graph input/output")
            target = inputs if number == 11 else outputs
            if len(target) >= MAX_VALUE_INFOS:
                raise msg.fail(f"graph with more than {MAX_VALUE_INFOS} inputs or outputs")
            target.append(_value_info(value))
    if not nodes:
        raise msg.fail("graph without nodes")
    return Graph(name, tuple(nodes), initializers, tuple(inputs), tuple(outputs))


def parse_model(data: bytes | bytearray | memoryview, name: str = "<bytes>") -> Model:
    """A ModelProto's bytes → `Model`. Raises `CheckpointError` for anything else."""
    if len(data) > MAX_FILE_BYTES:
        raise CheckpointError(f"{name}: {len(data)} bytes, expected an ONNX model of at most {MAX_FILE_BYTES}")
    msg = Message(memoryview(bytes(data)), 0, len(data), name)
    ir_version, opsets, producer, graph = None, {}, "", None
    try:
        for number, wire, value in msg.fields():
            if number == 1:
                expect_wire(msg, number, wire, VARINT, "ir_version")
                ir_version = value
            elif number == 2:
                expect_wire(msg, number, wire, BYTES, "producer_name")
                producer = value.text()
            elif number == 7:
                expect_wire(msg, number, wire, BYTES, "graph")
                if graph is not None:
                    raise msg.fail("two graphs")
                graph = _graph(value)
            elif number == 8:
                expect_wire(msg, number, wire, BYTES, "opset_import")
                domain, version = "", None
                for n2, w2, v2 in value.fields():
                    if n2 == 1:
                        expect_wire(value, n2, w2, BYTES, "opset domain")
                        domain = v2.text(256)
                    elif n2 == 2:
                        expect_wire(value, n2, w2, VARINT, "opset version")
                        version = v2
                if version is None or len(opsets) >= MAX_ATTRIBUTES:
                    raise msg.fail("malformed opset_import")
                opsets[domain] = version
            elif number in (3, 4, 6):
                expect_wire(msg, number, wire, BYTES, "model string")
            elif number == 5:
                expect_wire(msg, number, wire, VARINT, "model_version")
    except WireError as exc:
        raise CheckpointError(f"{exc}; not a readable ONNX model") from None
    if ir_version is None or not 3 <= ir_version <= 100 or graph is None or "" not in opsets:
        found = f"ir_version {ir_version}, {'a' if graph else 'no'} graph, opsets {sorted(opsets)}"
        raise CheckpointError(
            f"{name}: expected an ONNX model (ir_version ≥ 3, a graph, the default opset); found {found}"
        )
    return Model(ir_version, opsets, producer, graph)


def read_model(path: str | Path) -> Model:
    """Read an ONNX file from disk, bounded by `MAX_FILE_BYTES`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"ONNX model: expected an existing file, got {str(path)!r}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path}: {size} bytes, expected an ONNX model of at most {MAX_FILE_BYTES}")
    with path.open("rb") as f:
        return parse_model(f.read(MAX_FILE_BYTES + 1), name=str(path))
