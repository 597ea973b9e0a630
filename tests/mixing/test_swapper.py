import pytest
import torch
import torch.nn.functional as F

import lsw_core
from lsw_core import Camera, CameraSpec, CheckpointError, LswError
from lsw_core.mixing.mixer import LatentMixer
from lsw_core.mixing.swapper import Swapper


class OrbitGenerator(lsw_core.Generator):
    """A small camera-aware generator for testing multiview rendering: the image is a function of
    the W+ code and of the camera azimuth, so each view differs."""

    z_dim = w_dim = 8
    num_ws = 4
    resolution = 8
    camera = CameraSpec(azimuth_range=(-30.0, 30.0), polar_range=(80.0, 100.0))

    def __init__(self):
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(8))
        self.register_buffer("proj", torch.randn(4 * 8, 3 * 8 * 8, generator=torch.Generator().manual_seed(0)))

    def _mapping(self, z, *, truncation_psi, truncation_cutoff):
        return self.w_avg.lerp(F.normalize(z, dim=1), truncation_psi)[:, None].repeat(1, 4, 1)

    def _synthesis(self, ws, *, camera, noise_mode, background=None):
        shift = torch.deg2rad(camera.azimuth)[:, None] if isinstance(camera, Camera) else 0
        img = torch.tanh(ws.flatten(1) @ self.proj + shift).view(-1, 3, 8, 8)
        return img if background is None else img + background[:, :, None, None]


@pytest.fixture
def swapper():
    torch.manual_seed(0)
    return Swapper(OrbitGenerator(), LatentMixer(num_rows=4, w_dim=8))


def test_layer_groups_keep_the_target_elsewhere(swapper):
    ws_s, ws_t = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    full = swapper.mix(ws_s, ws_t)
    only_coarse = swapper.mix(ws_s, ws_t, groups=["coarse"])
    rows = list(swapper.generator.layer_groups["coarse"])
    assert rows == [0, 1, 2, 3]
    torch.testing.assert_close(only_coarse[:, rows], full[:, rows])
    with pytest.raises(LswError, match=r"unknown layer group\(s\) \['eyes'\]"):
        swapper.mix(ws_s, ws_t, groups=["eyes"])


def test_stylegan2_layer_groups_follow_the_papers_resolution_classes():
    groups = lsw_core.layer_groups_from_resolutions([4 * 2 ** (i // 2) for i in range(18)])
    assert groups == {"coarse": range(0, 4), "middle": range(4, 8), "fine1": range(8, 12), "fine2": range(12, 18)}


def test_one_image_per_camera_with_the_targets_background(swapper):
    ws_s, ws_t = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    views = swapper.generator.camera.yaw_sweep(5)
    background = torch.randn(2, 3)
    result = swapper.swap(ws_s, ws_t, cameras=views, background=background)
    assert result.images.shape == (2, 5, 3, 8, 8)
    assert not torch.equal(result.images[:, 0], result.images[:, 4])
    single = swapper.generator.synthesis(result.ws, camera=views[2], background=background)
    torch.testing.assert_close(result.images[:, 2], single)


def test_mixer_for_another_layout_names_both(tmp_path):
    mixer = LatentMixer(num_rows=18, w_dim=8)
    mixer.save_pretrained(tmp_path, backend="stylegan2", layout=lsw_core.LatentLayout(18, 8), space="w+")
    with pytest.raises(CheckpointError, match=r"trained for latent layout 18x8 \(stylegan2\).* has layout 4x8"):
        Swapper.from_folder(tmp_path, generator=OrbitGenerator())


def test_two_d_generators_refuse_cameras(example_plugin):
    G = lsw_core.load_generator("example-tiny")
    sw = Swapper(G, LatentMixer(num_rows=6, w_dim=32))
    with pytest.raises(LswError, match="2D"):
        sw.render(torch.randn(1, 6, 32), cameras=Camera.make(0.0))


def test_camera_presets_span_the_prior():
    spec = CameraSpec(azimuth_range=(-20.0, 20.0), polar_range=(70.0, 110.0))
    sweep = spec.yaw_sweep(5)
    assert sweep.azimuth.tolist() == [-20.0, -10.0, 0.0, 10.0, 20.0] and set(sweep.polar.tolist()) == {90.0}
    orbit = spec.orbit(8)
    assert orbit.azimuth.min() >= -20 and orbit.polar.max() <= 110 and len(orbit) == 8
    sample = spec.sample(100, torch.Generator().manual_seed(0))
    assert sample.azimuth.abs().max() <= 20 and len(sample[[0, 1]]) == 2


def test_swap_refuses_non_finite_integer_and_misshapen_codes(swapper):
    ws = torch.randn(2, 4, 8)
    bad = ws.clone()
    bad[1, 2, 3] = float("nan")
    with pytest.raises(LswError, match=r"source W\+ codes: expected finite values, found 1 NaN/inf"):
        swapper.swap(bad, ws)
    with pytest.raises(LswError, match="target W.*found 1 NaN/inf"):
        swapper.swap(ws, torch.where(bad.isnan(), float("inf"), ws))
    with pytest.raises(LswError, match="expected float values, got dtype int64"):
        swapper.swap(ws.long(), ws)
    with pytest.raises(LswError, match=r"expected W\+ codes of shape \[B, 4, 8\], got \[2, 18, 8\]"):
        swapper.mix(torch.randn(2, 18, 8), torch.randn(2, 18, 8))
    with pytest.raises(LswError, match="2 source codes but 1 target codes"):
        swapper.mix(ws, ws[:1])
    with pytest.raises(LswError, match="source z: expected finite values, found 8 NaN/inf"):
        swapper.mix_z(torch.full((1, 8), float("nan")), torch.zeros(1, 8))
    torch.testing.assert_close(swapper.swap(ws.double(), ws).ws, swapper.swap(ws, ws).ws)  # float64 is read


def test_numpy_wplus_arrays_are_codes_not_photos(swapper):
    ws_s, ws_t = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    from_numpy = swapper.swap(ws_s.numpy(), ws_t.numpy().astype("float64"))
    torch.testing.assert_close(from_numpy.ws, swapper.swap(ws_s, ws_t).ws)
    assert from_numpy.images.shape == (2, 3, 8, 8)
    one = swapper.swap(ws_s[0].numpy(), ws_t[:1])  # [num_ws, w_dim] is one code
    torch.testing.assert_close(one.ws, swapper.swap(ws_s[:1], ws_t[:1]).ws)
    bad = ws_s.numpy().copy()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(LswError, match="NaN/inf"):
        swapper.swap(bad, ws_t.numpy())


def test_groups_given_as_one_name_are_one_group(swapper):
    ws_s, ws_t = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    torch.testing.assert_close(swapper.mix(ws_s, ws_t, groups="coarse"), swapper.mix(ws_s, ws_t, groups=["coarse"]))
    with pytest.raises(LswError, match=r"unknown layer group\(s\) \['nose'\]"):  # not ['n', 'o', 's', 'e']
        swapper.mix(ws_s, ws_t, groups="nose")


@pytest.mark.parametrize("seeds", [[], [2**64], [-1], [1.5], [True], ["3"]], ids=repr)
def test_seeds_are_whole_numbers_in_torchs_range(swapper, seeds):
    with pytest.raises(LswError, match="seed"):
        swapper.latents_from_seeds(seeds)


def test_seed_specs_parse_or_say_what_was_expected():
    from lsw_core.mixing.latents import parse_seeds

    assert parse_seeds("seed:1,2, 3,") == [1, 2, 3]
    assert parse_seeds(f"seed:{2**64 - 1}") == [2**64 - 1]
    for spec in ("seed:", "seed:,", "seed:x", "seed:1.5", "seed:-1", "seed:١"):
        with pytest.raises(LswError, match="expected seed:N"):
            parse_seeds(spec)
    with pytest.raises(LswError, match="from 0 to 18446744073709551615"):
        parse_seeds("seed:1180591620717411303424")


def test_from_folder_checks_generator_options(tmp_path):
    mixer = LatentMixer(num_rows=4, w_dim=8)
    layout = lsw_core.LatentLayout(4, 8)
    mixer.save_pretrained(tmp_path, backend="synthface", layout=layout, space="w+")
    with pytest.raises(lsw_core.PluginError, match="unknown option 'resolutoin' for generator 'synthface'"):
        Swapper.from_folder(tmp_path, resolutoin=64)
    with pytest.raises(LswError, match=r"generator options \['seed'\] apply only without a generator"):
        Swapper.from_folder(tmp_path, generator=OrbitGenerator(), seed=1)


def test_view_counts_are_positive():
    spec = OrbitGenerator.camera
    for views in (0, -1, 2.5):
        with pytest.raises(LswError, match="views: expected a whole number of at least 1"):
            spec.yaw_sweep(views)
        with pytest.raises(LswError, match="views"):
            spec.orbit(views)


def test_mixer_evaluation_refuses_bad_settings_as_user_errors(swapper):
    from lsw_core.evaluation.latent_pairs import evaluate_mixer

    for pairs in (0, -3, 1, 2.0):
        with pytest.raises(LswError, match="pairs: expected a whole number of at least 2"):
            evaluate_mixer(swapper, pairs=pairs)
    with pytest.raises(LswError, match="no ground truth: pass an identity embedder"):
        evaluate_mixer(swapper, pairs=4)
