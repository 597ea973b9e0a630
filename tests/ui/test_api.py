"""`lsw ui` over HTTP, as a script would use it: every endpoint called with `gradio_client` on the app
served in this process (see conftest), checking what comes back — sizes, strength 0 giving the
target back, one image per camera, the clip's frames and audio — that a second request loads no
model, and that bad input is one message after which the same server keeps swapping."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

import lsw_core.plugins
from lsw_core.images import load_photo
from lsw_core.inversion.quality import psnr
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo.video_io import probe_video, read_frames
from lsw_core.ui.glue import PASTE_FIELDS

from .conftest import RESOLUTION

gradio_client = pytest.importorskip("gradio_client", reason="gradio_client comes with Gradio (the `ui` extra)")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402


def size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_each_action_is_a_named_endpoint(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/swap_photo", "/swap_video", "/multiview", "/detect_faces"} <= set(endpoints)
    names = [p["parameter_name"] for p in endpoints["/swap_photo"]["parameters"]]
    assert names[:5] == ["source", "target", "source_seed", "target_seed", "strength"]
    # The paste-back controls are PasteConfig's command-line settings, one each, in its order.
    assert [f.name for f in PASTE_FIELDS] == ["kind", "feather", "blend", "color_match"]
    assert names[names.index("paste") : names.index("paste") + 4] == ["paste", "feather", "blend", "color_match"]


def test_photo_swap_returns_the_swap_strip_and_psnr_and_a_second_request_loads_nothing(client, app, media, monkeypatch):
    engine, _ = app
    result, aligned, strip, info = client.predict(
        source=handle_file(media / "source.png"), target=handle_file(media / "target.png"), api_name="/swap_photo"
    )
    assert size(result) == size(aligned) == (RESOLUTION, RESOLUTION)  # an aligned-crop target: the swap itself
    width, height = size(strip)
    assert width > 3 * RESOLUTION and height > RESOLUTION  # three columns under their labels
    assert "inversion PSNR source" in info and "dB" in info
    loaded = dict(engine.cache.loads)
    calls = []
    original = lsw_core.plugins.load
    monkeypatch.setattr(lsw_core.plugins, "load", lambda *a, **k: calls.append(a) or original(*a, **k))
    again = client.predict(
        source=handle_file(media / "target.png"), target=handle_file(media / "source.png"), strength=0.5,
        api_name="/swap_photo",
    )  # fmt: skip
    assert calls == [] and dict(engine.cache.loads) == loaded  # nothing loaded again, through any loader
    assert loaded["mixer"] >= 1 and loaded["inverter"] == 1
    assert size(again[0]) == (RESOLUTION, RESOLUTION)


def test_strength_zero_gives_back_the_target(client, mixers, media):
    # Two seeds swap in latent space: strength 0 is exactly the target seed's face.
    zero = client.predict(source=None, target=None, source_seed="seed:5", target_seed="seed:6", strength=0,
                          api_name="/swap_photo")  # fmt: skip
    full = client.predict(source=None, target=None, source_seed="seed:5", target_seed="seed:6", api_name="/swap_photo")
    swapper = Swapper.from_folder(mixers["2d"])
    target = swapper.render(swapper.wplus_from_z(swapper.latents_from_seeds([6])))
    expected = ((target[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(load_photo(zero[1]), expected)
    assert not np.array_equal(load_photo(full[1]), expected)
    assert "no inversion" in zero[3]
    # Photos: strength 0 is the target's reconstruction, as close to it as the inversion's PSNR says.
    result = client.predict(source=handle_file(media / "source.png"), target=handle_file(media / "target.png"),
                            strength=0, api_name="/swap_photo")  # fmt: skip
    reported = float(result[3].split("target ")[1].split(" dB")[0])
    measured = float(psnr(to_unit(load_photo(result[1])), to_unit(load_photo(media / "target.png"))))
    assert abs(measured - reported) < 0.5, (measured, reported)


def to_unit(image: np.ndarray):
    import torch

    return torch.tensor(image).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_faces_of_a_real_photo_and_the_swap_pasted_back_into_it(client, media, tmp_path):
    pytest.importorskip("dlib", reason="the dlib-ffhq aligner is in the `faces` extra")
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")
    photo = tmp_path / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).save(photo)
    faces = client.predict(photo=handle_file(photo), api_name="/detect_faces")
    assert len(faces) >= 1 and faces[0]["caption"] == "face 0 (largest)"
    assert size(faces[0]["image"]) == (RESOLUTION, RESOLUTION)
    result, aligned, _, _ = client.predict(source=handle_file(media / "source.png"), target=handle_file(photo),
                                           target_face="0", api_name="/swap_photo")  # fmt: skip
    pasted, original = load_photo(result), skimage_data.astronaut()
    assert pasted.shape == original.shape and size(aligned) == (RESOLUTION, RESOLUTION)
    changed = np.any(pasted != original, axis=-1)
    ys, xs = np.nonzero(changed)
    assert changed.any() and xs.min() > 100 and xs.max() < 400 and ys.max() < 300  # only around her face


def test_every_face_of_a_group_photo_or_those_like_a_reference_with_the_paste_options(client, media, tmp_path):
    pytest.importorskip("dlib", reason="the dlib-ffhq aligner is in the `faces` extra")
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")
    astronaut = skimage_data.astronaut()
    group = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # two faces, side by side
    Image.fromarray(group).save(tmp_path / "group.png")
    Image.fromarray(astronaut).save(tmp_path / "reference.png")
    assert len(client.predict(photo=handle_file(tmp_path / "group.png"), api_name="/detect_faces")) == 2
    source, target = handle_file(media / "source.png"), handle_file(tmp_path / "group.png")
    every = client.predict(source=source, target=target, target_face="all", paste="face", blend="multiband",
                           color_match="lab", occlusion_mask=True, api_name="/swap_photo")  # fmt: skip
    assert every[3].endswith("face(s) 0, 1 swapped") and load_photo(every[0]).shape == group.shape
    changed = np.any(load_photo(every[0]) != group, axis=-1)
    assert changed[:, :512].any() and changed[:, 512:].any()
    like = client.predict(source=source, target=target, reference=handle_file(tmp_path / "reference.png"),
                          api_name="/swap_photo")  # fmt: skip
    assert like[3].endswith(("face(s) 0 swapped", "face(s) 1 swapped"))  # the most similar face only


def test_a_photo_without_a_face_is_one_line_and_the_next_request_works(client, media, tmp_path):
    pytest.importorskip("dlib", reason="the dlib-ffhq aligner is in the `faces` extra")
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")
    Image.fromarray(skimage_data.coffee()).save(tmp_path / "coffee.png")
    for endpoint, given in (("/detect_faces", {"photo": handle_file(tmp_path / "coffee.png")}),
                            ("/swap_photo", {"source": handle_file(media / "source.png"),
                                             "target": handle_file(tmp_path / "coffee.png")})):  # fmt: skip
        with pytest.raises(AppError, match="coffee.png: no face"):
            client.predict(**given, api_name=endpoint)
    good = client.predict(source=handle_file(media / "source.png"), target=handle_file(media / "target.png"),
                          api_name="/swap_photo")  # fmt: skip
    assert size(good[0]) == (RESOLUTION, RESOLUTION)


def test_requests_wait_in_the_queue_one_swap_at_a_time(app, media, tmp_path):
    from gradio_client import Client
    from gradio_client.utils import Status

    _, url = app
    first, second = (Client(url, verbose=False, download_files=str(tmp_path / n)) for n in ("1", "2"))
    clip = first.submit(source=handle_file(media / "source.png"), clip=handle_file(media / "walk.mp4"),
                        api_name="/swap_video")  # fmt: skip
    deadline = time.monotonic() + 120
    while clip.status().code not in (Status.PROCESSING, Status.PROGRESS) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not clip.done()
    photo = second.submit(source=None, target=None, source_seed="seed:8", target_seed="seed:9",
                          api_name="/swap_photo")  # fmt: skip
    seen = set()
    while not photo.done() and time.monotonic() < deadline:
        seen.add((photo.status().code, clip.done()))
        time.sleep(0.02)
    assert (Status.IN_QUEUE, False) in seen  # the photo waited while the clip was being swapped
    assert clip.result()[1].startswith("6 frames") and size(photo.result()[0]) == (RESOLUTION, RESOLUTION)
    first.close()
    second.close()


def test_multiview_returns_one_image_per_camera(client, mixers):
    views, strip, gif = client.predict(source=None, target=None, views=4, mixer=str(mixers["3d"].resolve()),
                                       api_name="/multiview")  # fmt: skip
    assert len(views) == 4 and [v["caption"] for v in views] == ["yaw -30°", "yaw -10°", "yaw +10°", "yaw +30°"]
    assert all(size(v["image"]) == (RESOLUTION, RESOLUTION) for v in views)
    assert len({Image.open(v["image"]).tobytes() for v in views}) == 4  # four different views
    assert size(strip)[0] > 4 * RESOLUTION
    with Image.open(gif) as animation:
        assert animation.n_frames == 6  # forward and back
    turned = client.predict(yaw=20, pitch=5, mixer=str(mixers["3d"].resolve()), api_name="/render_view")
    assert size(turned) == (RESOLUTION, RESOLUTION)
    with pytest.raises(AppError, match="camera-aware"):
        client.predict(source=None, target=None, views=2, api_name="/multiview")  # the 2D mixer


def test_layer_groups_and_an_edit_direction_of_the_mixer_folder(client):
    swap, figure = client.predict(source=None, target=None, groups=["middle"], api_name="/layers")
    assert size(swap) == (RESOLUTION, RESOLUTION)
    assert size(figure)[0] > 7 * RESOLUTION  # source, target, four groups alone, all groups
    image, strip = client.predict(direction="file:first_eight.npy", amount=2, api_name="/edit")
    assert size(image) == (RESOLUTION, RESOLUTION) and size(strip)[0] > 5 * RESOLUTION
    assert not np.array_equal(load_photo(image), load_photo(swap))


def test_clip_swap_keeps_frames_and_audio(client, media):
    faces = client.predict(clip=handle_file(media / "walk.mp4"), api_name="/clip_faces")
    assert len(faces) == 1 and faces[0]["caption"] == "face 0 (an aligned crop)"
    video, line = client.predict(source=handle_file(media / "source.png"), clip=handle_file(media / "walk.mp4"),
                                 max_frames=5, tune_frames=2, api_name="/swap_video")  # fmt: skip
    info = probe_video(video)
    assert info.has_audio and (info.width, info.height) == (RESOLUTION, RESOLUTION)
    assert len(list(read_frames(video))) == 5
    assert line.startswith("5 frames: 5 swapped")


@pytest.mark.parametrize(
    "call, message",
    [
        ({"source": "notes.txt"}, "notes.txt: not a readable image"),
        ({"source": "notes.png"}, "notes.png: not a readable image"),
        ({"target": "huge.png"}, "huge.png: refused: larger than 120 megapixels"),
        ({"source": None, "source_seed": ""}, "source: upload a photo or give a seed (seed:N)"),
        ({"source_seed": "seed:x", "source": None}, "expected seed:N"),
        ({"feather": 0.9}, "paste-back feather: expected a finite number >= 0 and <= 0.5"),
        ({"target_face": "left"}, "target face 'left': expected 'largest', 'all' or a face number"),
        ({"mixer": "/etc"}, "mixer '/etc': not one this app serves"),
    ],
    ids=["text-file", "text-as-png", "megapixels", "no-source", "bad-seed", "bad-feather", "bad-face", "other-folder"],
)
def test_bad_photo_input_is_one_line_and_the_next_request_works(client, app, media, call, message):
    given = {"source": "source.png", "target": "target.png", **call}
    for side in ("source", "target"):
        given[side] = handle_file(media / given[side]) if given[side] else None
    with pytest.raises(AppError) as error:
        client.predict(**given, api_name="/swap_photo")
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(app[0].root) not in str(error.value)  # uploads named as they were uploaded
    good = client.predict(source=handle_file(media / "source.png"), target=handle_file(media / "target.png"),
                          api_name="/swap_photo")  # fmt: skip
    assert size(good[0]) == (RESOLUTION, RESOLUTION)


@pytest.mark.parametrize(
    "call, message",
    [
        ({"clip": "broken.mp4"}, "broken.mp4: not a readable video"),
        ({"clip": "notes.txt"}, "notes.txt: not a readable video"),
        ({"start": 1.0, "end": 0.5}, "--end 0.5: must come after --start 1.0"),
        ({"max_frames": -1}, "max frames -1: expected 1 or more"),
    ],
    ids=["broken", "text", "end-before-start", "no-frames"],
)
def test_bad_clip_input_is_one_line(client, media, call, message):
    given = {"source": handle_file(media / "source.png"), "clip": handle_file(media / call.pop("clip", "walk.mp4")),
             **call}  # fmt: skip
    with pytest.raises(AppError, match=message.replace(".", r"\.")):
        client.predict(**given, api_name="/swap_video")


def test_a_clip_over_the_frame_limit_is_refused_before_any_work(client, app, media):
    engine, _ = app
    loaded = dict(engine.cache.loads)
    began = time.monotonic()
    with pytest.raises(AppError, match="long.mp4: refused: 25 frames in the chosen range is more than this app's "
                                       "limit of 20"):  # fmt: skip
        client.predict(source=handle_file(media / "source.png"), clip=handle_file(media / "long.mp4"),
                       api_name="/swap_video")  # fmt: skip
    assert time.monotonic() - began < 10 and dict(engine.cache.loads) == loaded
    video, line = client.predict(
        source=handle_file(media / "source.png"),
        clip=handle_file(media / "long.mp4"),
        start=1.0,
        max_frames=3,
        tune_frames=1,
        api_name="/swap_video",
    )  # trimmed: fine
    assert line.startswith("3 frames: 3 swapped") and len(list(read_frames(video))) == 3


def test_models_lists_each_mixer_with_its_summary_and_metrics(client, mixers):
    rows = client.predict(api_name="/models")
    by_folder = {row["mixer"]: row for row in rows}
    flat = by_folder[str(mixers["2d"].resolve())]
    assert flat["backend"] == "synthface" and flat["layout"] == "18×512 W+" and flat["steps"] == 2
    assert flat["recipe"] == "custom" and flat["embedder"] == "synthface-id"
    assert flat["metrics"]["n_pairs"] == 4 and set(flat["metrics"]) >= {"id_retrieval", "pose_error_deg"}
    camera = by_folder[str(mixers["3d"].resolve())]
    assert camera["backend"] == "synthface3d" and camera["layout"] == "21×512 W+" and camera["metrics"] is None


def test_a_session_s_files_go_when_it_ends_and_results_stay_in_the_output_folder(app, media, tmp_path):
    from gradio_client import Client

    engine, url = app
    before = set(engine.sessions.live())
    client = Client(url, verbose=False, download_files=str(tmp_path / "dl"))
    client.predict(source=handle_file(media / "source.png"), target=handle_file(media / "target.png"),
                   api_name="/swap_photo")  # fmt: skip
    mine = set(engine.sessions.live()) - before
    assert len(mine) == 1
    folder = engine.root / "sessions" / mine.pop()
    assert any(folder.glob("*-aligned.png")) and any((folder / "pivots").iterdir())
    kept = sorted(p.name for p in engine.settings.out.iterdir())
    assert any(name.endswith("-aligned.png") for name in kept)
    client.close()  # the session ends: its heartbeat stops
    deadline = time.monotonic() + 30
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not folder.exists()
    assert sorted(p.name for p in engine.settings.out.iterdir()) == kept


def test_the_demo_mixer_trains_from_the_page_with_progress_then_swaps(client, app):
    engine, _ = app
    job = client.submit(api_name="/train_demo")
    seen = set()
    while not job.done():
        for unit in job.status().progress_data or []:
            seen.add(unit.desc)
        time.sleep(0.05)
    update, _, _, status = job.result()
    chosen = update["value"]  # the page's mixer list, now with the new mixer chosen
    folder = engine.settings.models[0] / "mixer"
    assert chosen == str(folder.resolve()) and status == f"trained: {folder.resolve()}"
    assert any(text.startswith(("loading the synthetic world", "training step")) for text in seen if text), seen
    assert str(folder.resolve()) in {row["mixer"] for row in client.predict(api_name="/models")}
    result = client.predict(source=None, target=None, source_seed="seed:1", target_seed="seed:2", mixer=chosen,
                            api_name="/swap_photo")  # fmt: skip
    assert size(result[0]) == (128, 128)  # a demo run's mixer renders at the demo's 128 px
    with pytest.raises(AppError, match="already holds a mixer"):
        client.predict(api_name="/train_demo")
