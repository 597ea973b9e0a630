"""Video swapping end to end on clips the tests make from the synthetic world's frames at 64 px
(aligned crops, so no aligner is needed): `lsw swap SOURCE CLIP.mp4` keeps the frame count, rate, size and audio and
changes the faces; bad clips and outputs end in one `error:` line, leaving no partial file."""

from __future__ import annotations

from fractions import Fraction

import attrs
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from lsw_core.errors import LswError
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo import from_tensor
from lsw_core.photo.video import VideoSwapper, smooth
from lsw_core.plugins import hookimpl, load_aligner, load_inverter
from lsw_synthface.generator import synthface

from .conftest import untrained_mixer

av = pytest.importorskip("av", reason="PyAV is in the `test` extra")

FAST_PTI = ["--inverter-option", "schedule=fast", "--inverter-option", "perceptual=pixel-ssim",
            "--inverter-option", "projection_steps=4", "--inverter-option", "projection_warm_steps=2",
            "--inverter-option", "tuning_steps=2", "--tune-frames", "2", "--no-cache"]  # fmt: skip
FPS = Fraction(12)


def small_world(checkpoint=None, **_):
    return synthface(resolution=64).eval()


class SmallWorldPlugin:
    @hookimpl
    def register_generators(self, register):
        register("synthface-64-video", small_world, description="the synthetic world at 64 px")


@pytest.fixture(scope="module")
def mixer_dir(tmp_path_factory):
    yield from untrained_mixer(
        tmp_path_factory.mktemp("mixer"), SmallWorldPlugin(), "synthface-64-video", small_world()
    )


def clip_frames(count: int = 6, seed: int = 3) -> list[np.ndarray]:
    """A slow walk between two faces of the world: aligned 64² crops."""
    G = small_world()
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(seed))
    t = torch.linspace(0, 0.3, count)[:, None, None]
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=0.7)
        images = G.synthesis(ws[:1] * (1 - t) + ws[1:] * t, noise_mode="const")
    return [from_tensor(img) for img in images]


def write_clip(path, frames, *, audio: bool = False) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        sound = container.add_stream("aac", rate=16000, layout="mono") if audio else None
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            samples = int(16000 * len(frames) / FPS)
            tone = (0.3 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
            for i in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[:, i : i + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 16000, i
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)


def read_clip(path) -> tuple[list[np.ndarray], Fraction, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps, has_audio = stream.average_rate, bool(container.streams.audio)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return frames, fps, has_audio


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    frames = clip_frames()
    write_clip(folder / "walk.mp4", frames)
    write_clip(folder / "walk_audio.mp4", frames, audio=True)
    Image.fromarray(clip_frames(1, seed=8)[0]).save(folder / "source.png")
    return folder


def swap(*args: str):
    from lsw_core.cli import add_plugin_commands, cli

    add_plugin_commands()
    return CliRunner().invoke(cli, ["swap", *args], catch_exceptions=False)


@pytest.mark.parametrize("name", ["walk.mp4", "walk_audio.mp4"])
def test_video_swap_keeps_frames_rate_size_and_audio(mixer_dir, clips, tmp_path, name):
    out = tmp_path / "out.mp4"
    result = swap(str(clips / "source.png"), str(clips / name), "--mixer", str(mixer_dir), "-o", str(out), *FAST_PTI)
    assert result.exit_code == 0, result.output
    target, fps, audio = read_clip(clips / name)
    swapped, out_fps, out_audio = read_clip(out)
    assert len(swapped) == len(target) == 6
    assert out_fps == fps == FPS
    assert swapped[0].shape == target[0].shape == (64, 64, 3)
    assert out_audio == audio == (name == "walk_audio.mp4")
    change = [np.abs(s.astype(int) - t.astype(int)).mean() for s, t in zip(swapped, target)]
    assert min(change) > 2, change  # codec noise alone is below 1 grey level
    assert "6 swapped, 0 without the face" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary file left


def test_max_frames_and_start_limit_the_work(mixer_dir, clips, tmp_path):
    out = tmp_path / "part.mp4"
    result = swap(str(clips / "source.png"), str(clips / "walk_audio.mp4"), "--mixer", str(mixer_dir), "-o", str(out),
                  "--start", str(2 / 12), "--max-frames", "3", "--smooth", "1", *FAST_PTI)  # fmt: skip
    assert result.exit_code == 0, result.output
    frames, fps, audio = read_clip(out)
    assert len(frames) == 3 and fps == FPS and audio


def test_api_swaps_aligned_frames(mixer_dir):
    """Through the Python API, frames handed over as arrays; a non-square frame needs an aligner,
    and without one the clip is refused before any projection."""
    swapper = Swapper.from_folder(mixer_dir)
    inverter = load_inverter("pti", schedule="fast", perceptual="pixel-ssim", projection_steps=3, tuning_steps=1)
    video = VideoSwapper(swapper, inverter, smooth=3, tune_frames=1)
    frames = clip_frames(4)
    written = []
    summary = video.swap_frames(clip_frames(1, seed=8)[0], lambda: iter(frames), written.append)
    assert summary.frames == summary.swapped == len(written) == 4 and summary.copied == 0
    assert len(summary.tuned_on) == 1 and summary.psnr_mean is not None
    with pytest.raises(LswError, match="need an aligner"):
        video.swap_frames(frames[0], lambda: iter([np.zeros((40, 60, 3), np.uint8)]), written.append)


def test_photo_frames_are_tracked_pasted_back_and_faceless_ones_copied(mixer_dir):
    pytest.importorskip("dlib", reason="dlib is in the `faces` extra")
    import skimage.data

    swapper = Swapper.from_folder(mixer_dir)
    inverter = load_inverter("pti", schedule="fast", perceptual="pixel-ssim", projection_steps=3, tuning_steps=1)
    video = VideoSwapper(swapper, inverter, aligner=load_aligner("dlib-ffhq"), tune_frames=1)
    astronaut = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((320, 320)))
    moved = np.roll(astronaut, (4, 6), axis=(0, 1))
    coffee = np.asarray(Image.fromarray(skimage.data.coffee()).resize((320, 320)))
    frames = [astronaut, moved, coffee, astronaut]
    written = []
    summary = video.swap_frames(clip_frames(1, seed=8)[0], lambda: iter(frames), written.append)
    assert (summary.frames, summary.swapped, summary.copied) == (4, 3, 1)
    assert np.array_equal(written[2], coffee)
    for i in (0, 1, 3):
        ys, xs = np.nonzero(np.any(written[i] != frames[i], axis=-1))
        assert len(ys) > 1000 and xs.min() > 60 and xs.max() < 220 and ys.max() < 180  # around her face only


def test_smoothing_averages_within_runs_of_frames_with_the_face():
    values = torch.tensor([0.0, 3.0, 6.0, 100.0, 1.0, 1.0])
    present = [True, True, True, False, True, True]
    out = smooth(values, present, 3)
    assert out.tolist() == [1.5, 3.0, 4.5, 100.0, 1.0, 1.0]
    assert smooth(values, present, 1).tolist() == values.tolist()


def bad(args, expect, tmp_path):
    result = swap(*args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expect in lines[0], result.output
    return result


def test_bad_video_inputs(mixer_dir, clips, tmp_path):
    src, mixer = str(clips / "source.png"), str(mixer_dir)
    (tmp_path / "text.mp4").write_text("not a video at all")
    bad([src, str(tmp_path / "text.mp4"), "--mixer", mixer, "-o", str(tmp_path / "o.mp4")], "not a readable video",
        tmp_path)  # fmt: skip
    bad([src, str(clips / "walk.mp4"), "--mixer", mixer, "-o", str(tmp_path / "o.mp4"), "--codec", "nosuchcodec"],
        "not a video encoder", tmp_path)  # fmt: skip
    bad([src, str(clips / "walk.mp4"), "--mixer", mixer, "-o", "/proc/o.mp4"], "cannot write", tmp_path)
    bad([src, str(clips / "walk.mp4"), "--mixer", mixer, "-o", str(tmp_path / "o.png")], "writes a video", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.mp4"]


def test_clip_without_faces_leaves_no_partial_output(mixer_dir, clips, tmp_path):
    pytest.importorskip("dlib", reason="dlib is in the `faces` extra")
    import skimage.data

    coffee = np.asarray(Image.fromarray(skimage.data.coffee()).resize((120, 80)))
    write_clip(tmp_path / "coffee.mp4", [coffee] * 3)
    out = tmp_path / "o.mp4"
    bad([str(clips / "source.png"), str(tmp_path / "coffee.mp4"), "--mixer", str(mixer_dir), "-o", str(out), *FAST_PTI],
        "no face in any of the 3 frames", tmp_path)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coffee.mp4"]


def test_projection_from_given_pivots_starts_there_and_runs_warm_steps(tiny_generator):
    from lsw_core.inversion import ProjectionConfig, project
    from lsw_core.inversion.loss import noise_buffers
    from lsw_lpips.fallback import PixelSSIM

    G = tiny_generator
    with torch.no_grad():
        image = G.synthesis(G.mapping(torch.randn(1, G.z_dim)), noise_mode="const")
    config = ProjectionConfig(steps=6, warm_steps=2, w_avg_samples=64, init="w_avg")
    first = project(G, image, config, PixelSSIM())
    assert first.metrics["steps"] == 6
    again = project(G, image, config, PixelSSIM(), start=first)
    assert again.metrics["steps"] == 2
    unchanged = project(G, image, attrs.evolve(config, warm_steps=0), PixelSSIM(), start=first)
    assert torch.equal(unchanged.ws, first.ws)
    for name, buf in noise_buffers(unchanged.generator).items():  # the previous frame's noise, not fresh noise
        assert torch.equal(buf, noise_buffers(first.generator)[name])


def test_warm_projection_moves_at_most_its_lr_and_is_pulled_to_the_previous_frame(tiny_generator):
    from lsw_core.inversion import ProjectionConfig, project
    from lsw_lpips.fallback import PixelSSIM

    G = tiny_generator
    with torch.no_grad():
        images = G.synthesis(G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(3))))
    config = ProjectionConfig(steps=6, warm_steps=1, warm_lr=1e-4, warm_pull=0.0, w_avg_samples=64, init="w_avg")
    first = project(G, images[:1], config, PixelSSIM())
    # The next frame is another face: one Adam step from fresh moments moves each coordinate by lr.
    step = project(G, images[1:], config, PixelSSIM(), start=first)
    assert 0 < (step.ws - first.ws).abs().max() <= 1e-4 * (1 + 1e-3)
    free, pulled = (
        project(
            G, images[1:], attrs.evolve(config, warm_steps=8, warm_lr=1e-2, warm_pull=pull), PixelSSIM(), start=first
        )
        for pull in (0.0, 100.0)
    )
    assert (pulled.ws - first.ws).norm() < 0.5 * (free.ws - first.ws).norm()
