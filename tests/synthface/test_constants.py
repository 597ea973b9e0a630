"""The world's constants are exact shipped data, so the world is bit-identical on every CPU."""

import hashlib
import json
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from lsw_core.formats.artifacts import fingerprint as generator_fingerprint
from lsw_core.inversion.encoder import read_encoder_metadata
from lsw_synthface import constants, shape3d
from lsw_synthface.generator import synthface, synthface3d
from lsw_synthface.nets import shipped_weights

# sha256 of weights/world.safetensors, and of the values it loads to (names, dtypes, shapes and
# bytes of every tensor, by name): changing the world invalidates every shipped network.
WORLD_SHA256 = "ca49d88ef97b246eebd10c3d02a389033cfb8634dee9144c4dc0cc08ab82786e"
VALUES_SHA256 = "9a960bb86d97a820c3e72990f5c08cb020ebaccd15a017d4d1d91f963104f941"


def values_sha256(tensors):
    h = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name]
        h.update(f"{name} {value.dtype} {tuple(value.shape)}".encode())
        h.update(value.contiguous().numpy().tobytes())
    return h.hexdigest()


def test_the_shipped_constants_are_the_ones_the_networks_were_made_on():
    assert hashlib.sha256(constants.shipped_path().read_bytes()).hexdigest() == WORLD_SHA256
    assert values_sha256(constants.shipped()) == VALUES_SHA256
    assert torch.equal(constants.shipped()["stretch"], constants.shipped()["stretch"].T)


def test_the_symmetric_stretch_is_stored_as_its_upper_triangle():
    matrix = torch.randn(5, 5, dtype=torch.float64)
    matrix = matrix + matrix.T
    stored = constants.packed({"stretch": matrix, "w_avg": torch.ones(3)})
    assert sorted(stored) == ["stretch.upper", "w_avg"] and stored["stretch.upper"].shape == (15,)
    assert torch.equal(constants.unpacked(stored)["stretch"], matrix)
    matrix[0, 1] += 1e-12
    with pytest.raises(ValueError, match="not exactly symmetric"):
        constants.packed({"stretch": matrix})


@pytest.mark.parametrize("backend", [synthface, synthface3d])
def test_generators_and_shape_model_use_the_stored_constants_bit_for_bit(backend):
    stored = constants.shipped()
    state = backend(resolution=64).state_dict()
    names = {k.replace("mapping_network.", "mapping."): v for k, v in state.items()}
    assert set(names) | {"shape.mean", "shape.identity_basis", "shape.expression_basis"} == set(stored)
    for name, value in names.items():
        assert torch.equal(value, stored[name]), name
    assert torch.equal(shape3d.MEAN, stored["shape.mean"])
    assert torch.equal(shape3d.IDENTITY_BASIS, stored["shape.identity_basis"])
    assert torch.equal(shape3d.EXPRESSION_BASIS, stored["shape.expression_basis"])


def test_the_shipped_encoder_records_this_worlds_fingerprint():
    recorded = read_encoder_metadata(shipped_weights("encoder.safetensors"))
    assert (recorded["backend"], recorded["generator_fingerprint"]) == ("synthface", generator_fingerprint(synthface()))


def test_another_seed_is_another_world():
    assert not torch.allclose(synthface(resolution=64, seed=1).w_avg, synthface(resolution=64).w_avg)


@pytest.mark.slow
def test_the_regeneration_command_recomputes_the_shipped_constants(tmp_path):
    # Bit-identical on the machine that made the file; elsewhere the last bits of randn, the SVD
    # and the matrix products may differ, so the check here is to float32 precision.
    out = tmp_path / "world.safetensors"
    run = subprocess.run(
        [sys.executable, "-m", "lsw_synthface.regenerate", "--out", str(out), "--check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = json.loads(run.stdout[run.stdout.index("{") :])
    assert set(report["max_abs_difference"]) == set(constants.shipped())
    assert all(d is not None and d < 1e-5 for d in report["max_abs_difference"].values()), report
    with safe_open(str(out), "pt") as f:
        assert sorted(f.keys()) == sorted(constants.packed(constants.shipped()))
