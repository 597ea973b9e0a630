"""`lsw swap --generator stylenerf --checkpoint PATH --views N` on a small random-weight checkpoint."""

import numpy as np
from PIL import Image

import lsw_core
from lsw_core.mixing.mixer import LatentMixer
from tests.conftest import run_lsw


def test_multiview_swap_writes_a_strip_and_a_gif(fixtures_dir, tmp_path):
    checkpoint = fixtures_dir / "tiny64.pt"
    G = lsw_core.load_generator("stylenerf", checkpoint=checkpoint)
    mixer = LatentMixer(num_rows=G.num_ws, w_dim=G.w_dim)
    mixer.save_pretrained(tmp_path / "mixer", backend="stylenerf", layout=G.latent_layout, space="w+")
    out = tmp_path / "strip.png"
    run_lsw(
        "swap", "seed:1", "seed:2", "--generator", "stylenerf", "--checkpoint", str(checkpoint),
        "--mixer", str(tmp_path / "mixer"), "--views", "3", "-o", str(out),
    )  # fmt: skip
    strip = np.asarray(Image.open(out))
    assert strip.shape == (3 * 66 + 2, 3 * 66 + 2, 3)  # source, target, swap rows × 3 views of 64 px
    swaps = [strip[2 + 2 * 66 : 2 + 2 * 66 + 64, 2 + v * 66 : 2 + v * 66 + 64] for v in range(3)]
    assert not np.array_equal(swaps[0], swaps[1]) and not np.array_equal(swaps[1], swaps[2])
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.n_frames >= 3
