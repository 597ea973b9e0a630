"""`lsw ui` in a real browser, as a person uses it: Debian's Chromium driven by Playwright (from PyPI,
without its own browser download) on the app served in this process. Upload two photos, swap, see
the result at its size, move the strength slider and swap again, upload a non-image and read the
message, swap again. Screenshots go to a folder (printed; `LSW_UI_SCREENSHOTS` chooses it)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lsw_core.images import load_photo
from lsw_core.inversion.quality import psnr

from .conftest import RESOLUTION

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")

CHROMIUM = Path(os.environ.get("LSW_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]  # fmt: skip
SWAP_SECONDS = 120


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LSW_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=FLAGS, viewport={"width": 1280, "height": 1500},
        )  # fmt: skip
        yield context
        context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("LSW_UI_SCREENSHOTS") or tmp_path_factory.mktemp("ui-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def image_pixels(page, selector: str) -> np.ndarray:
    """The image an <img> shows, fetched as the page fetched it."""
    src = page.locator(selector).get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))


def wait_for_image(page, selector: str, other_than: str | None = None) -> str:
    """Wait until `selector` shows a loaded image (with another src than `other_than`); its src."""
    page.wait_for_function(
        """([selector, old]) => { const img = document.querySelector(selector);
             return img && img.complete && img.naturalWidth > 0 && img.src !== old; }""",
        arg=[selector, other_than or ""], timeout=SWAP_SECONDS * 1000,
    )  # fmt: skip
    return page.locator(selector).get_attribute("src")


def test_swap_two_photos_move_the_strength_and_swap_again_then_a_non_image(app, browser, media, shots):
    _, url = app
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#photo-swap")
    page.set_input_files("#photo-source-photo input[type=file]", str(media / "source.png"))
    page.set_input_files("#photo-target-photo input[type=file]", str(media / "target.png"))
    page.locator("#photo-faces img").first.wait_for(timeout=SWAP_SECONDS * 1000)  # the target's faces, to click
    page.click("#photo-swap")
    first = wait_for_image(page, "#photo-result img")
    result = page.locator("#photo-result img")
    assert result.evaluate("e => [e.naturalWidth, e.naturalHeight]") == [RESOLUTION, RESOLUTION]
    box = result.bounding_box()
    assert box["width"] >= RESOLUTION and abs(box["width"] - box["height"]) < 2  # shown whole, square
    assert "inversion PSNR" in page.locator("#photo-info textarea").input_value()
    assert page.locator("#photo-download-result").is_visible()
    page.screenshot(path=str(shots / "1-photo-swap.png"), full_page=True)

    page.locator("#photo-strength input[type=range]").fill("0")
    assert page.locator("#photo-strength input[type=number]").input_value() == "0"
    page.click("#photo-swap")
    wait_for_image(page, "#photo-result img", other_than=first)
    info = page.locator("#photo-info textarea").input_value()
    reported = float(info.split("target ")[1].split(" dB")[0])
    shown = image_pixels(page, "#photo-result img")  # strength 0: the target's reconstruction
    target = load_photo(media / "target.png")
    unit = [torch_unit(x) for x in (shown, target)]
    assert abs(float(psnr(*unit)) - reported) < 0.5
    page.screenshot(path=str(shots / "2-strength-zero.png"), full_page=True)

    page.set_input_files("#photo-source-photo input[type=file]", str(media / "notes.png"))
    message = page.locator("[data-testid=toast-body]").filter(has_text="notes.png: not a readable image")
    message.first.wait_for(timeout=30_000)
    assert message.first.is_visible()
    page.wait_for_timeout(800)  # the message slides in
    page.screenshot(path=str(shots / "3-non-image.png"))  # the viewport: the message floats at its top
    page.set_input_files("#photo-source-photo input[type=file]", str(media / "source.png"))
    before = page.locator("#photo-result img").get_attribute("src")
    page.locator("#photo-strength input[type=range]").fill("1")
    page.click("#photo-swap")
    wait_for_image(page, "#photo-result img", other_than=before)  # the same server swaps on
    page.close()


def test_the_other_pages_render(app, browser, shots):
    _, url = app
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#photo-swap")
    for tab, marker in (("Multiview", "#mv-run"), ("Layers and edits", "#ly-run"), ("Video", "#video-swap"),
                        ("Models", "#models-table")):  # fmt: skip
        page.get_by_role("tab", name=tab).click()
        page.wait_for_selector(marker, state="visible")
        page.screenshot(path=str(shots / f"4-{tab.split()[0].lower()}.png"), full_page=True)
    assert "synthface3d" in page.locator("#models-table").inner_text()
    page.close()


def torch_unit(image: np.ndarray):
    import torch

    return torch.tensor(image).permute(2, 0, 1)[None].float() / 127.5 - 1
