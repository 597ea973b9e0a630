"""The app's parts without the page: which mixers it finds and how it summarises them, the checks on
what a request brings, session folders, clip progress, and the demo mixer trained with progress."""

from __future__ import annotations

import json
import shutil

import pytest

from lsw_core.errors import LswError
from lsw_core.training.config import TrainConfig
from lsw_core.training.recipes import cpu_recipe, recipe
from lsw_core.ui import Engine, UiSettings
from lsw_core.ui.catalog import find_mixers, read_metrics, recipe_name
from lsw_core.ui.clips import PassProgress
from lsw_core.ui.inputs import Upload, check_clip, side
from lsw_core.ui.sessions import Sessions
from lsw_core.ui.settings import parse_auth


def test_mixers_named_come_first_then_those_found_and_a_demo_run_renders_at_128_px(mixers, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(mixers["2d"], models / "run" / "mixer")
    config = json.loads((models / "run" / "mixer" / "config.json").read_text())
    config["training"]["generator_options"] = {"resolution": 96}  # as `lsw demo` trains it
    (models / "run" / "mixer" / "config.json").write_text(json.dumps(config))
    (models / "broken").mkdir()
    (models / "broken" / "config.json").write_text("{}")
    entries, skipped = find_mixers([mixers["3d"]], [models, tmp_path / "absent"])
    assert [e.folder for e in entries] == [mixers["3d"].resolve(), (models / "run" / "mixer").resolve()]
    assert [e.demo for e in entries] == [False, True] and entries[1].generator_options == {"resolution": 128}
    assert len(skipped) == 1 and "broken" in skipped[0]
    with pytest.raises(LswError, match="config.json"):
        find_mixers([models / "broken"], [])


def test_recipes_are_named_from_the_recorded_settings():
    assert recipe_name(cpu_recipe("synthface").to_dict()) == "demo"
    assert recipe_name(TrainConfig(generator="synthface").to_dict()) == "paper"
    assert recipe_name(TrainConfig(generator="dcgan-faces", **recipe("real-embedder")).to_dict()) == "real-embedder"
    assert recipe_name(TrainConfig(generator="synthface", batch_size=2).to_dict()) == "custom"


def test_metrics_beside_a_mixer_or_of_its_demo_run(tmp_path):
    (tmp_path / "mixer").mkdir()
    assert read_metrics(tmp_path / "mixer") is None
    (tmp_path / "metrics.json").write_text(json.dumps({"id_retrieval": 0.98, "n_pairs": 200, "other": 1}))
    assert read_metrics(tmp_path / "mixer") == {"file": str(tmp_path / "metrics.json"), "id_retrieval": 0.98,
                                                "n_pairs": 200}  # fmt: skip


def test_a_sessions_end_removes_its_folder_and_the_uploads_only_it_sent(tmp_path):
    sessions = Sessions(tmp_path / "root")
    shared, own = sessions.root / "aa" / "face.png", sessions.root / "bb" / "mine.png"
    for path in (shared, own):
        path.parent.mkdir()
        path.write_bytes(b"x")
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"x")
    for session, paths in (("one", [shared, own, outside]), ("two", [shared])):
        for path in paths:
            sessions.note_upload(session, path)
    result = sessions.result_path("one", "swap", ".png")
    result.write_bytes(b"x")
    sessions.end("one")
    assert not result.parent.exists() and not own.exists() and not own.parent.exists()
    assert shared.exists() and outside.exists()  # another session sent it; not the app's file
    sessions.end("two")
    assert not shared.exists()
    with pytest.raises(LswError, match="unexpected characters"):
        sessions.folder("../x")
    sessions.close()
    assert not sessions.root.exists()


def test_clip_progress_says_the_pass_frames_per_second_and_time_left():
    seen = []
    passes = PassProgress(4, lambda fraction, text: seen.append((fraction, text)), looks_first=True)
    assert list(passes.wrap(iter(range(1)))) == [0] and seen == []  # the look at the first frame
    for _ in range(3):
        assert len(list(passes.wrap(iter(range(4))))) == 4
    assert seen[0][1].startswith("tracking (pass 1 of 3): frame 1 of 4, ")
    assert "frames/s, about" in seen[0][1] and seen[0][1].endswith("s left in this pass")
    assert seen[-1][1].startswith("rendering (pass 3 of 3): frame 4 of 4")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[3] == pytest.approx(0.1) and fractions[-1] == pytest.approx(1)


def test_what_a_request_brings_is_checked_with_the_command_line_s_wording(media):
    assert side("source", None, "seed:7").seed == 7 and side("source", None, " 7 ").seed == 7
    with pytest.raises(LswError, match="source: one seed, got 'seed:1,2'"):
        side("source", None, "seed:1,2")
    clip = Upload(media / "walk.mp4", "walk.mp4")
    assert check_clip(clip, start=0, end=None, max_frames=None, limit=6).frames in (0, 6)
    with pytest.raises(LswError, match="walk.mp4: refused: 6 frames in the chosen range is more than this app's limit"):
        check_clip(clip, start=0, end=None, max_frames=None, limit=5)
    with pytest.raises(LswError, match="--end 1.0: must come after --start 2.0"):
        check_clip(clip, start=2.0, end=1.0, max_frames=None, limit=5)
    assert parse_auth("me:a:b") == ("me", "a:b") and parse_auth(None) is None
    with pytest.raises(LswError, match="--auth: expected USER:PASS") as error:
        parse_auth("me:")
    assert "me" not in str(error.value).split(":", 1)[1]


def test_with_no_mixer_the_engine_says_how_to_get_one(tmp_path):
    engine = Engine(UiSettings(models=[tmp_path / "models"]), root=tmp_path / "temp")
    assert engine.entries == [] and engine.root == (tmp_path / "temp").resolve()
    with pytest.raises(LswError, match="no mixer yet: train the demo mixer"):
        engine.loaded(None)
    engine.close()
    assert not (tmp_path / "temp").exists()
