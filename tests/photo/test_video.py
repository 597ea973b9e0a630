"""Video swapping end to end on clips the tests make from the synthetic world's frames at 64 px
(aligned crops, so no aligner is needed): `lsw swap SOURCE CLIP.mp4` keeps the frame count, each
frame's time (variable frame rates too), size and audio and changes the faces; a cover picture is not
the clip; damaged or truncated clips are swapped with a `warning:` naming the frames that could not be
read; bad clips and outputs end in one `error:` line, leaving no partial file."""

from __future__ import annotations

import struct
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
from tests.clips import write_clip
from tests.conftest import untrained_mixer

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


def read_clip(path) -> tuple[list[np.ndarray], Fraction, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps, has_audio = stream.average_rate, bool(container.streams.audio)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return frames, fps, has_audio


def frame_times(path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(container.streams.video[0])]


def audio_times(path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None]


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


# --- timing, streams, damaged clips --------------------------------------------------------------

VFR_TIMES = [0.0, 0.1, 0.15, 0.5, 0.62, 1.2]  # as a phone records: the rate drops and recovers


@pytest.mark.parametrize("start", [0.0, 0.12])
def test_variable_frame_rate_clips_keep_each_frames_time_and_the_audio_in_sync(mixer_dir, clips, tmp_path, start):
    clip, out = tmp_path / "vfr.mp4", tmp_path / "out.mp4"
    write_clip(clip, clip_frames(), audio=True, times=VFR_TIMES)
    assert frame_times(clip) == pytest.approx(VFR_TIMES, abs=1e-6)
    result = swap(str(clips / "source.png"), str(clip), "--mixer", str(mixer_dir), "-o", str(out),
                  "--start", str(start), *FAST_PTI)  # fmt: skip
    assert result.exit_code == 0, result.output
    kept = [t for t in VFR_TIMES if t >= start]
    assert frame_times(out) == pytest.approx([t - start for t in kept], abs=1e-3)
    # The audio is shifted by the same `start` as the frames: what played together still does.
    heard = [t for t in audio_times(clip) if t >= start]
    assert audio_times(out) == pytest.approx([t - start for t in heard], abs=1e-3)
    assert "warning" not in result.output


def cover_first(path, frames) -> None:
    """An mp4 whose first stream is a cover picture: the muxer puts the cover art after the tracks,
    so its `udta` box is moved to the front of `moov` (the demuxer then lists the cover first)."""

    def boxes(data):
        i = 0
        while i < len(data):
            size, kind = struct.unpack(">I4s", data[i : i + 8])
            yield kind, data[i : i + size]
            i += size

    write_clip(path, frames, cover=np.full((32, 32, 3), 200, np.uint8))
    out = b""
    for kind, box in boxes(path.read_bytes()):
        if kind == b"moov":
            children = sorted(boxes(box[8:]), key=lambda child: child[0] != b"udta")
            box = box[:8] + b"".join(b for _, b in children)
        out += box
    path.write_bytes(out)


def test_a_cover_picture_is_not_taken_for_the_clip(mixer_dir, clips, tmp_path):
    from lsw_core.photo.video_io import probe_video

    clip, out = tmp_path / "covered.mp4", tmp_path / "out.mp4"
    cover_first(clip, clip_frames())
    with av.open(str(clip)) as container:
        assert container.streams[0].disposition & av.stream.Disposition.attached_pic
    info = probe_video(clip)
    assert info.stream == 1 and (info.width, info.height) == (64, 64)
    result = swap(str(clips / "source.png"), str(clip), "--mixer", str(mixer_dir), "-o", str(out), *FAST_PTI)
    assert result.exit_code == 0, result.output
    assert len(read_clip(out)[0]) == 6 and "6 swapped" in result.output
    bad([str(clips / "source.png"), str(clip), "--mixer", str(mixer_dir), "-o", str(tmp_path / "o.mp4"),
         "--stream", "2"], "stream 2 is not a video stream (its video streams: 0 (cover picture), 1)", tmp_path)  # fmt: skip


def damage_one_frame(path, index: int) -> float:
    """Overwrite the middle of video packet `index` of `path` with garbage; its time in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        packet = packets[index]
        position, size, when = packet.pos, packet.size, float(packet.pts * stream.time_base)
    data = bytearray(path.read_bytes())
    data[position + size // 4 : position + 3 * size // 4] = b"\xa5" * (3 * size // 4 - size // 4)
    path.write_bytes(bytes(data))
    return when


def test_damaged_and_truncated_clips_are_written_with_a_warning_naming_what_is_missing(mixer_dir, clips, tmp_path):
    """Decision: a clip that cannot be read whole is still swapped; the frames that were read keep
    their times (the frame before a gap shows for longer, the audio stays in sync) and one `warning:`
    line says which frames are missing."""
    source = str(clips / "source.png")
    damaged = tmp_path / "damaged.mov"
    write_clip(damaged, clip_frames(), codec="png")  # a PNG frame that does not inflate fails to decode
    lost = damage_one_frame(damaged, 3)
    result = swap(source, str(damaged), "--mixer", str(mixer_dir), "-o", str(tmp_path / "d.mp4"), *FAST_PTI)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"1 frame(s) could not be decoded (at {lost:.2f} s)" in warnings[0], result.output
    expected = [i / 12 for i in range(6) if i != 3]
    assert frame_times(tmp_path / "d.mp4") == pytest.approx(expected, abs=1e-3)

    whole = tmp_path / "whole.mp4"
    write_clip(whole, clip_frames(12, seed=5), options={"movflags": "faststart"})  # the index first: still readable
    with av.open(str(whole)) as container:
        cut = next(p.pos for i, p in enumerate(container.demux(container.streams.video[0])) if i == 8)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[:cut])  # the file ends before frame 8
    read = frame_times(truncated)
    assert len(read) == 8
    result = swap(source, str(truncated), "--mixer", str(mixer_dir), "-o", str(tmp_path / "t.mp4"), *FAST_PTI)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.output
    assert (
        f"the frames after {read[-1]:.2f} s are missing (the clip declares 1.00 s and 12 frames; 8 read)" in warnings[0]
    )
    assert frame_times(tmp_path / "t.mp4") == pytest.approx(read, abs=1e-3)


def test_odd_sized_frames_given_as_aligned_crops_are_resized_like_photos(mixer_dir, clips, tmp_path):
    """63×63 frames with --aligned: each is resized to the generator's 64 px and the swap back to
    63×63; MPEG-4 part 2, which only encodes 4:2:0, writes the odd size."""
    from PIL import Image as PILImage

    frames = [np.asarray(PILImage.fromarray(f).resize((63, 63))) for f in clip_frames(3)]
    clip, out = tmp_path / "odd.mkv", tmp_path / "odd.mp4"
    write_clip(clip, frames, codec="ffv1")
    result = swap(str(clips / "source.png"), str(clip), "--mixer", str(mixer_dir), "-o", str(out), "--aligned",
                  "--codec", "mpeg4", *FAST_PTI)  # fmt: skip
    assert result.exit_code == 0, result.output
    swapped = read_clip(out)[0]
    assert len(swapped) == 3 and swapped[0].shape == (63, 63, 3)
    assert np.abs(swapped[0].astype(int) - frames[0].astype(int)).mean() > 2


def test_save_latents_writes_the_swapped_frames_codes(mixer_dir, clips, tmp_path):
    out = tmp_path / "out.mp4"
    result = swap(str(clips / "source.png"), str(clips / "walk.mp4"), "--mixer", str(mixer_dir), "-o", str(out),
                  "--save-latents", "--max-frames", "3", *FAST_PTI)  # fmt: skip
    assert result.exit_code == 0, result.output
    codes = np.load(tmp_path / "out.npy")
    G = small_world()
    assert codes.shape == (3, G.num_ws, G.w_dim) and np.isfinite(codes).all()
    assert f"wrote {out} and {tmp_path / 'out.npy'}" in result.output


def test_tune_frames_is_bounded_by_the_clip(mixer_dir):
    swapper = Swapper.from_folder(mixer_dir)
    inverter = load_inverter("pti", schedule="fast", perceptual="pixel-ssim", projection_steps=2, tuning_steps=1)
    video = VideoSwapper(swapper, inverter, smooth=1, tune_frames=2_000_000_000)
    frames = clip_frames(3)
    summary = video.swap_frames(clip_frames(1, seed=8)[0], lambda: iter(frames), lambda frame: None)
    assert summary.tuned_on == [0, 1, 2]


def test_clip_checks_before_any_work(mixer_dir, clips, tmp_path):
    """Encoder, container and size together, the range and the stream: one `error:` line each, before
    a model loads (the mixer folder here is not even read: it does not exist)."""
    src, walk, nope = str(clips / "source.png"), str(clips / "walk.mp4"), str(tmp_path / "no-mixer")
    out = ["--mixer", nope, "-o", str(tmp_path / "o.mp4")]
    bad([src, walk, *out, "--codec", "gif"], "--codec gif cannot write 64×64 video into .mp4 ('mp4' format does not "
        "support 'gif' codec); these can: libx264, mpeg4", tmp_path)  # fmt: skip
    bad([src, walk, "--mixer", nope, "-o", str(tmp_path / "o.webm"), "--codec", "png"],
        "--codec png cannot write 64×64 video into .webm", tmp_path)  # fmt: skip
    bad([src, str(clips / "walk_audio.mp4"), "--mixer", nope, "-o", str(tmp_path / "o.webm")],
        "a .webm file cannot carry the clip's aac audio with libvpx-vp9 video; .mp4", tmp_path)  # fmt: skip
    bad([src, walk, *out, "--start", "5"], "--start 5.0: past the end of", tmp_path)
    bad([src, walk, *out, "--start", "nan"], "'nan' is not a finite number", tmp_path)
    bad([src, walk, *out, "--end", "inf"], "'inf' is not a finite number", tmp_path)
    (tmp_path / "folder.mp4").mkdir()
    bad([src, str(tmp_path / "folder.mp4"), *out], "folder.mp4: is a folder, not a video file", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.mp4"]


def test_an_encoder_that_cannot_start_here_is_refused_before_any_work(clips, tmp_path):
    from lsw_core.photo.video_io import _try_encoder, choose_codec, probe_video

    if "h264_nvenc" not in av.codecs_available:
        pytest.skip("this FFmpeg has no h264_nvenc encoder")
    info = probe_video(clips / "walk.mp4")
    if _try_encoder("h264_nvenc", ".mp4", info) is None:
        pytest.skip("h264_nvenc works on this machine (it has an NVIDIA GPU)")
    with pytest.raises(LswError, match="--codec h264_nvenc cannot write 64×64 video into .mp4 .*cannot start.*libx264"):
        choose_codec(tmp_path / "o.mp4", info, "h264_nvenc")


def test_a_target_face_the_first_frame_does_not_have_says_how_many_it_has(mixer_dir, clips, tmp_path):
    pytest.importorskip("dlib", reason="dlib is in the `faces` extra")
    import skimage.data

    astronaut = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((320, 320)))
    write_clip(tmp_path / "one_face.mp4", [astronaut] * 2)
    bad([str(clips / "source.png"), str(tmp_path / "one_face.mp4"), "--mixer", str(mixer_dir), "-o",
         str(tmp_path / "o.mp4"), "--target-face", "99", *FAST_PTI],
        "target face 99 is out of range: the first frame with faces (frame 0) has 1 (0 = the largest)", tmp_path)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one_face.mp4"]
