"""The OpenVINO IR reader and the graph walker on IR files the tests write: weights come back exactly,
and damaged or crafted files are refused in one line before anything large is allocated."""

from __future__ import annotations

import re
import time

import pytest
import torch

import lsw_core
from lsw_core.errors import CheckpointError
from lsw_mobilestylegan import ir
from lsw_mobilestylegan.graph import read_synthesis
from lsw_mobilestylegan.ir import read_ir
from lsw_mobilestylegan.loaders import read_ir_folder

from .conftest import SMALL, small_generator
from .irwriter import write_ir


def _refused(path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as info:
        read_ir_folder(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_the_graphs_give_back_every_weight_and_the_architecture(small_ir):
    G, folder = small_ir
    init_kwargs, state = read_ir_folder(folder)
    assert init_kwargs == {k: SMALL[k] for k in ("z_dim", "w_dim", "mapping_layers", "channels")}
    own = G.state_dict()
    assert set(state) == set(own) - {"w_avg"}
    for key, value in state.items():
        if key.endswith("noise.strength"):  # estimated from the noise the export multiplied in
            const = own[key.replace("strength", "const")]
            assert torch.allclose(value, const.square().mean().sqrt(), rtol=1e-5)
        else:
            assert torch.equal(value, own[key]), key


def test_an_ir_folder_loads_as_the_generator_it_was_written_from(small_ir):
    G, folder = small_ir
    loaded = lsw_core.load_generator("mobilestylegan", checkpoint=folder)
    assert loaded.backend_name == "mobilestylegan" and loaded.num_ws == G.num_ws == 8
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    ws = G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(loaded.synthesis(ws), G.synthesis(ws))


@pytest.mark.parametrize(
    "declaration",
    ['<!DOCTYPE net [<!ENTITY a "aaaaaaaaaa">]>', '<!DOCTYPE net SYSTEM "http://example.com/net.dtd">'],
)
def test_doctype_and_entity_declarations_are_refused(small_ir, declaration):
    _, folder = small_ir
    xml = folder / "MappingNetwork.xml"
    text = xml.read_text()
    xml.write_text(text.replace("?>", "?>\n" + declaration, 1))
    _refused(folder, r"refused: the XML declares (a DOCTYPE|an ENTITY)")


def test_a_truncated_weights_file_is_refused_naming_the_constant(small_ir):
    _, folder = small_ir
    binary = folder / "SynthesisNetwork.bin"
    binary.write_bytes(binary.read_bytes()[:-100])
    message = _refused(folder, r"lie past the end of the weights file")
    assert re.search(r"SynthesisNetwork\.xml: layer \d+ \(Const '", message)


def test_offsets_sizes_and_shapes_are_checked_before_reading(small_ir):
    _, folder = small_ir
    xml = folder / "MappingNetwork.xml"
    text = xml.read_text()
    first = re.search(r'offset="(\d+)" size="(\d+)"', text)
    cases = [
        (text.replace(first.group(0), f'offset="{10**12}" size="{first.group(2)}"', 1), "past the end"),
        (text.replace(first.group(0), f'offset="{first.group(1)}" size="3"', 1), r"3 bytes for 1 values of f32; expected 4"),
        (text.replace(first.group(0), 'offset="-4" size="4"', 1), r"attribute 'offset': expected 0 to"),
        (text.replace('version="10"', 'version="7"', 1), r'expected an OpenVINO IR <net version="10">'),
        (text.replace("<edges>", "<edges><edge from-layer=\"0\" from-port=\"0\" to-layer=\"9999\" to-port=\"0\"/>", 1),
         "names layer 9999"),
        (text[: len(text) // 2], "not a well-formed XML file"),
    ]  # fmt: skip
    for damaged, message in cases:
        xml.write_text(damaged)
        _refused(folder, message)


def test_huge_declared_shapes_are_refused_without_allocating(small_ir):
    _, folder = small_ir
    xml = folder / "SynthesisNetwork.xml"
    text = xml.read_text()
    const = re.search(r'<data element_type="f32" shape="([\d, ]+)" offset="(\d+)" size="(\d+)"/>', text)
    huge = f'<data element_type="f32" shape="200000, 200000" offset="0" size="{4 * 200000 * 200000}"/>'
    xml.write_text(text.replace(const.group(0), huge, 1))
    start = time.perf_counter()
    _refused(folder, r"shape \[200000, 200000\] holds 40,000,000,000 values; refused")
    assert time.perf_counter() - start < 5


def test_the_total_of_all_constants_is_bounded(small_ir, monkeypatch):
    _, folder = small_ir
    monkeypatch.setattr(ir, "MAX_PARAMETERS", 3000)  # more than any one constant holds, less than all
    _refused(folder, r"SynthesisNetwork.xml: its constants hold [\d,]+ values; refused \(more than 3,000")


def test_element_counts_and_nesting_are_bounded(small_ir, monkeypatch):
    _, folder = small_ir
    monkeypatch.setattr(ir, "MAX_ELEMENTS", 50)
    _refused(folder, "more than 50 XML elements; refused")
    monkeypatch.undo()
    xml = folder / "MappingNetwork.xml"
    xml.write_text(xml.read_text().replace("<layers>", "<layers>" + "<a>" * 40 + "</a>" * 40, 1))
    _refused(folder, r"XML nested deeper than 16; refused")


def test_a_graph_of_another_shape_is_refused_at_the_layer_that_differs(small_ir):
    _, folder = small_ir
    xml = folder / "SynthesisNetwork.xml"
    text = xml.read_text()
    cases = [
        (text.replace('"2, 1"', '"2, 2"', 1), r"expected an unpadded transposed convolution of stride 2 along one axis"),
        (text.replace('type="PReLU"', 'type="Relu"', 1), r"expected its output to feed one PReLU, found Relu"),
        (text.replace("m.layers.0.up.modulation.weight", "m.layers.0.upx.modulation.weight", 1),
         r"expected a modulation weight named"),
    ]  # fmt: skip
    for damaged, message in cases:
        xml.write_text(damaged)
        found = _refused(folder, message)
        assert "not a MobileStyleGAN graph this reader knows" in found and re.search(r"layer \d+ \(", found)


def test_a_wavelet_filter_other_than_haar_is_refused(small_ir):
    G, folder = small_ir
    graph = read_ir(folder / "SynthesisNetwork.xml")
    deconv = graph.of_type("GroupConvolutionBackpropData")[0]
    kernel_layer = graph.producer(deconv, 1)[0]
    c = graph._constants[kernel_layer.id]
    data = bytearray((folder / "SynthesisNetwork.bin").read_bytes())
    data[c.offset : c.offset + 4] = torch.tensor([0.5]).numpy().tobytes()
    (folder / "SynthesisNetwork.bin").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="expected the same filter for every channel|inverse Haar transform"):
        read_synthesis(read_ir(folder / "SynthesisNetwork.xml"))


def test_folders_without_both_graphs_are_refused(tmp_path):
    G = small_generator()
    folder = write_ir(G, tmp_path / "ir")
    (folder / "SynthesisNetwork.bin").unlink()
    with pytest.raises(CheckpointError, match=r"SynthesisNetwork.bin: no such OpenVINO IR weights \(.bin\) file"):
        lsw_core.load_generator("mobilestylegan", checkpoint=folder)
    (folder / "SynthesisNetwork.xml").unlink()
    with pytest.raises(CheckpointError, match=r"expected a generator folder \(config.json\), or an OpenVINO IR folder"):
        lsw_core.load_generator("mobilestylegan", checkpoint=folder)
