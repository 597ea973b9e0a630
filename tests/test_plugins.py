import json
import textwrap

import pytest

import lsw_core
from lsw_core import PluginError, hookimpl
from lsw_core.plugins import broken_plugins, plugin_manager, registry
from tests.conftest import run_lsw


def test_installed_distribution_is_discovered_through_its_entry_point(example_plugin):
    listing = json.loads(run_lsw("backends", "--json").stdout)
    assert listing["components"]["generator"]["example-tiny"]["plugin"] == "example"
    G = lsw_core.load_generator("example-tiny")
    assert (G.num_ws, G.w_dim, G.backend_name) == (6, 32, "example-tiny")


def test_lsw_plugins_restricts_what_loads(example_plugin):
    listing = json.loads(run_lsw("backends", "--json", env={"LSW_PLUGINS": ""}).stdout)
    assert listing["components"]["generator"] == {}
    only = json.loads(run_lsw("backends", "--json", env={"LSW_PLUGINS": "example"}).stdout)
    assert set(only["components"]["generator"]) == {"example-tiny"}


def test_broken_plugin_is_reported_and_breaks_nothing_else(example_plugin, tmp_path, monkeypatch):
    # A real distribution whose plugin module raises on import.
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[lsw_core]\nbroken = broken_plugin\n")
    env = {"PYTHONPATH": f"{tmp_path}:{example_plugin}", "LSW_PLUGINS": "example,broken"}
    result = run_lsw("backends", env=env)
    assert "broken: failed to load broken_plugin: RuntimeError: boom at import" in result.stdout
    assert "example-tiny" in result.stdout
    swap = run_lsw("train", "--generator", "nope", "--out", str(tmp_path / "x"), env=env, check=False)
    assert swap.returncode == 2
    assert swap.stderr.strip().splitlines() == [
        "error: unknown generator 'nope'; available: example-tiny; broken plugins: broken (see `lsw backends`)"
    ]


class Throwaway:
    """A plugin object registered for one test."""

    @hookimpl
    def register_generators(self, register):
        register("throwaway", lambda checkpoint=None: "made", description="test")

    @hookimpl
    def register_shape_models(self, register):
        raise ValueError("hook failure")

    @hookimpl
    def register_inverters(self, register):
        register("fixed", lambda steps=10, *, lr=0.1: ("fixed", steps, lr))
        register("open", lambda **options: ("open", options))


@pytest.fixture
def throwaway():
    pm = plugin_manager()
    plugin = Throwaway()
    pm.register(plugin, name="throwaway")
    yield
    pm.unregister(plugin)


def test_registered_object_plugin_and_failing_hook(throwaway):
    assert registry("generator")["throwaway"].description == "test"
    assert registry("shape_model") == {} or "throwaway" not in registry("shape_model")
    assert "register_shape_models raised ValueError: hook failure" in broken_plugins()["throwaway"]


def test_unknown_names_say_what_is_available(throwaway):
    with pytest.raises(PluginError, match=r"unknown generator 'nope'; available: .*throwaway"):
        lsw_core.load_generator("nope")
    with pytest.raises(PluginError, match="unknown plugin kind"):
        registry("vocoder")


def test_unknown_options_name_the_option_and_the_known_ones(throwaway):
    from lsw_core.plugins import load, load_inverter

    assert load_inverter("fixed", steps=3, lr=1.0) == ("fixed", 3, 1.0)
    with pytest.raises(PluginError, match=r"unknown option 'step' for inverter 'fixed'; its options: steps, lr$"):
        load_inverter("fixed", step=3)
    with pytest.raises(PluginError, match=r"inverter 'fixed' takes no checkpoint \(its options: steps, lr\)"):
        load("inverter", "fixed", checkpoint="x.pt")
    assert load("inverter", "fixed", checkpoint=None) == ("fixed", 10, 0.1)  # load_*'s default, not a choice
    assert load_inverter("open", anything=1) == ("open", {"anything": 1})  # **options takes any


def test_lsw_plugins_naming_no_installed_plugin_warns(monkeypatch):
    monkeypatch.setenv("LSW_PLUGINS", "nosuch")
    lsw_core.plugins.reset()
    try:
        with pytest.warns(UserWarning, match="LSW_PLUGINS names nosuch, but no such plugin is installed"):
            plugin_manager()
    finally:
        monkeypatch.delenv("LSW_PLUGINS")
        lsw_core.plugins.reset()


def test_hookspecs_document_every_extension_point():
    from lsw_core import hookspecs

    for name in (
        "register_generators",
        "register_identity_embedders",
        "register_shape_models",
        "register_inverters",
        "register_commands",
    ):
        assert textwrap.dedent(getattr(hookspecs, name).__doc__).strip()
