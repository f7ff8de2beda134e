"""An audio site, end to end in real Chromium: a tiny streaming voice-activity model
(tests/media_models.py: energy into a state, sigmoid out, a sample-rate input) converted
with --task voice-activity --state state=stateN --constant sr=16000, built, given a
generated 22.05 kHz stereo WAV through its file input, and checked by `webml verify
--input clip.wav` against the wave module and onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from webapp.browser import launch, page_url, wait_until_ready
from webapp.serve import running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WEBML = [sys.executable, "-m", "webapp"]
SCREENSHOTS = ROOT / "tests" / "output"


def _webml(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WEBML, *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def audio_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audio")
    model = media_models.vad(folder / "vad.onnx")
    done = _webml("convert", model, "--task", "voice-activity", "--sample-rate", "16000",
                  "--frame", "512", "--state", "state=stateN", "--constant", "sr=16000",
                  "-o", folder / "out")
    assert done.returncode == 0, done.stderr
    done = _webml("build", folder / "out", "-o", folder / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    return folder / "site"


def test_verify_input_compares_a_clip_frame_by_frame(audio_site: Path, chromium: Path,
                                                     tmp_path: Path) -> None:
    clip, _ = media_models.tone_wav(tmp_path / "clip.wav")
    done = _webml("verify", audio_site, "--backends", "wasm", "--input", clip,
                  "--browser", chromium, "--watch", "1", "--timeout", "90")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("1 sound file of --input checked against the wave module and onnxruntime"
            in done.stdout and "(41 frames)" in done.stdout)
    assert "0 after the model loaded" in done.stdout


def test_the_page_resamples_as_python_and_marks_the_speech(audio_site: Path, chromium: Path,
                                                          tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from converter.manifest import read_manifest
    from converter.native import native_for
    from converter.tasks import audio

    clip, (speech,) = media_models.tone_wav(tmp_path / "clip.wav")
    manifest = read_manifest(audio_site)
    channels, rate = audio.read_wav(clip)
    want = audio.answer(manifest.audio, manifest.inputs, channels, rate,
                        native_for(manifest, audio_site).run, None)
    with sync_playwright() as playwright, running_server(audio_site) as url:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 800})
            wait_until_ready(page, page_url(url, "wasm", 90), 90)
            page.set_input_files("#audio-file", str(clip))
            page.wait_for_function("() => window.webml.last?.clip === 'clip.wav'",
                                   polling=100, timeout=60_000)
            last = page.evaluate("() => window.webml.last")
            samples = np.asarray(last["samples"], dtype=np.float32)
            # 22.05 kHz stereo -> 16 kHz mono: the browser's decoding and our linear
            # resampler give Python's samples, float32 for float32.
            difference = float(np.max(np.abs(samples - want.samples)))
            print(f"resampling parity: max |page - Python| = {difference} over "
                  f"{samples.size} samples")
            assert samples.shape == want.samples.shape and difference == 0.0
            assert np.allclose(np.asarray(last["rows"]), want.frames, atol=1e-4)
            assert [tuple(s) for s in last["segments"]] == want.segments
            (start, end), = want.segments
            assert abs(start - speech[0]) < 0.05 and abs(end - speech[1]) < 0.2
            assert page.locator("#output canvas.waveform").count() == 1
            assert page.locator("#output ol.segment-list li").all_text_contents() == [
                f"speech {start:.2f}–{end:.2f} s"]
            with page.expect_download() as download:
                page.click("#output a.download")
            saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
            assert [tuple(s) for s in saved["segments"]] == want.segments
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "voice-activity.png", full_page=True)
        finally:
            browser.close()


def test_the_microphone_runs_live_through_the_worklet_and_sends_nothing(
        audio_site: Path, chromium: Path) -> None:
    """Chromium's fake capture device (a beep) through getUserMedia and the AudioWorklet:
    frames run as they complete, the view updates, and no request leaves the page."""
    from playwright.sync_api import sync_playwright

    from webapp.browser import QUIET_ARGS

    with sync_playwright() as playwright, running_server(audio_site) as url:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, chromium_sandbox=False,
            args=[*QUIET_ARGS, "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"])
        try:
            context = browser.new_context(permissions=["microphone"])
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            wait_until_ready(page, page_url(url, "wasm", 90), 90)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.click("#microphone")
            page.wait_for_function(
                "() => window.webml.last?.live && window.webml.last.frames >= 20",
                polling=100, timeout=60_000)
            last = page.evaluate("() => window.webml.last")
            assert all(0.0 <= row[0] <= 1.0 for row in last["rows"])
            assert page.locator("#output canvas.waveform").count() == 1
            assert page.text_content("#microphone") == "Stop the microphone"
            page.click("#microphone")
            assert page.text_content("#microphone") == "Use the microphone"
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "microphone.png", full_page=True)
            # After the model was ready, the one request is the worklet module, from the site.
            worklet = "/worklets/audio-capture.js"
            assert [r for r in requests if not r.endswith(worklet)] == [], requests
            assert all(r.startswith(url) for r in requests), requests
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()


def test_a_keras_sound_classifier_on_tensorflow_js_passes_verify_input(
        chromium: Path, tmp_path: Path) -> None:
    """--task audio-classification from a .keras file (TensorFlow.js): frames every 160
    samples, logits softmaxed, the clip ranked; the page's labels equal Python's."""
    from playwright.sync_api import sync_playwright

    model = media_models.sound_classifier(tmp_path / "sounds.keras")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(media_models.SOUND_LABELS) + "\n", encoding="utf-8")
    done = _webml("convert", model, "--task", "audio-classification", "--sample-rate", "16000",
                  "--frame", "400", "--hop", "160", "--labels", labels, "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    done = _webml("build", tmp_path / "out", "-o", tmp_path / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    clip, _ = media_models.tone_wav(tmp_path / "clip.wav")
    done = _webml("verify", tmp_path / "site", "--backends", "wasm", "--input", clip,
                  "--browser", chromium, "--watch", "0", "--timeout", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("1 sound file of --input checked against the wave module and tensorflow "
            "(129 frames)") in done.stdout
    with sync_playwright() as playwright, running_server(tmp_path / "site") as url:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700})
            wait_until_ready(page, page_url(url, "wasm", 90), 90)
            page.set_input_files("#audio-file", str(clip))
            page.wait_for_function("() => window.webml.last?.clip === 'clip.wav'",
                                   polling=100, timeout=60_000)
            ranked = page.locator("#output ol.clip-labels li").all_text_contents()
            assert [item.removeprefix("■ ").rsplit(" ", 1)[0] for item in ranked] == [
                "quiet-ish", "loud", "silent"]
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "audio-classification.png", full_page=True)
        finally:
            browser.close()
