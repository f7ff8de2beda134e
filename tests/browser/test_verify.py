import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import site_file

from converter.files import sha256_file
from webapp.assets import static_root
from webapp.build import BuildOptions, build_site, pin_page_scripts
from webapp.verify import VerifyOptions, format_report, verify_site

# Every backend of each runtime; WebGL and WebGPU run on SwiftShader here.
BACKENDS = {"onnx": ("auto", "webgpu", "webgl", "wasm"),
            "tfjs": ("auto", "webgpu", "webgl", "wasm", "cpu")}


@pytest.mark.parametrize("runtime", ["onnx", "tfjs"])
def test_verify_passes_on_every_shipped_backend(sites: dict[str, Path], chromium: Path,
                                                runtime: str) -> None:
    report = verify_site(sites[runtime], VerifyOptions(BACKENDS[runtime], chromium, 60, 3,
                                                       samples=3, watch_s=0))
    text = format_report(report)
    assert report.ok, text
    for result in report.results:
        assert result.status == "pass", text
        assert result.max_abs is not None and result.max_abs <= 1e-4
        assert result.inference_ms is not None and result.load_ms is not None
        assert result.checked == 4  # the golden input and three samples run natively now
        assert result.top1 == (4, 4)  # both tiny models end in a softmax
    # `auto` passes over the software GPU adapters and lands on WebAssembly.
    assert report.results[0].backend == "wasm"
    assert [r.backend for r in report.results[1:]] == list(BACKENDS[runtime][1:])
    assert report.notes[0].startswith("3 samples checked against")
    assert report.requests and not report.off_origin and not report.csp_violations
    assert any(r.url.endswith("webml.json") for r in report.requests)
    assert "verify: passed" in text


def copy_site(site: Path, tmp_path: Path) -> Path:
    target = tmp_path / "site"
    shutil.copytree(site, target)
    return target


def test_tampered_model_file_fails(sites: dict[str, Path], chromium: Path,
                                   tmp_path: Path) -> None:
    site = copy_site(sites["onnx"], tmp_path)
    model = site_file(site, "model.onnx")
    data = bytearray(model.read_bytes())
    data[-40] ^= 0xFF
    model.write_bytes(bytes(data))
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1))
    assert not report.ok
    (result,) = report.results
    assert result.status == "error"
    assert "failed its integrity check" in result.detail


def test_wrong_numbers_fail_even_with_a_matching_hash(sites: dict[str, Path], chromium: Path,
                                                      tmp_path: Path) -> None:
    # Change the weights and write the new sha256 into the manifest, so only the
    # outputs can tell: the page's golden check and verify must both catch it.
    site = copy_site(sites["tfjs"], tmp_path)
    weights = site_file(site, "group1-shard1of1.bin")
    data = bytearray(weights.read_bytes())
    graph = json.loads(site_file(site, "model.json").read_text())
    offset = 0
    for spec in graph["weightsManifest"][0]["weights"]:
        size = 4 * int(np.prod(spec["shape"]))
        if spec["dtype"] == "float32":  # scale the float weights, leave int shapes alone
            values = np.frombuffer(data[offset:offset + size], dtype="<f4") * 1.5
            data[offset:offset + size] = values.astype("<f4").tobytes()
        offset += size
    weights.write_bytes(bytes(data))
    manifest = json.loads((site / "webml.json").read_text())
    for file in manifest["files"]:
        if file["path"].endswith("/group1-shard1of1.bin"):
            file["sha256"] = sha256_file(weights)
    (site / "webml.json").write_text(json.dumps(manifest))
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1))
    (result,) = report.results
    assert result.status != "pass"
    assert "wrong results on wasm" in result.detail


def test_a_request_to_another_origin_fails(sites: dict[str, Path], chromium: Path,
                                           tmp_path: Path) -> None:
    site = copy_site(sites["onnx"], tmp_path)
    index = site / "index.html"
    # A test-only page that tries to load a picture from elsewhere (.invalid never resolves).
    index.write_text(index.read_text().replace(
        "</body>", '<img src="http://webml-test.invalid/pixel.png" alt=""></body>'))
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1))
    assert report.results[0].status == "pass"  # the model itself is fine
    assert not report.ok
    assert report.csp_violations or report.off_origin
    assert "webml-test.invalid" in format_report(report)


def test_cli_verify_exit_codes(sites: dict[str, Path], chromium: Path, tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, "-m", "webapp", "verify", str(sites["onnx"]),
                           "--browser", str(chromium), "--repeats", "2", "--watch", "0",
                           "--json", str(tmp_path / "report.json")],
                          capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "verify: passed" in good.stdout
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is True
    broken = copy_site(sites["onnx"], tmp_path)
    site_file(broken, "model.onnx").write_bytes(b"not the model")
    bad = subprocess.run([sys.executable, "-m", "webapp", "verify", str(broken),
                          "--browser", str(chromium), "--timeout", "30", "--watch", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "verify: FAILED" in bad.stdout


def test_report_is_a_plain_dataclass(sites: dict[str, Path], chromium: Path) -> None:
    report = verify_site(sites["onnx"], VerifyOptions(("auto",), chromium, 60, 1, watch_s=0))
    assert dataclasses.asdict(report)["results"][0]["status"] == "pass"


def add_module(site: Path, name: str, code: str) -> None:
    """Make a test-only page: one more module script in index.html."""
    (site / "js" / name).write_text(code)
    index = site / "index.html"
    index.write_text(index.read_text().replace(
        "</head>", f'<script type="module" src="js/{name}"></script></head>'))


def test_a_request_after_the_model_loaded_fails(sites: dict[str, Path], chromium: Path,
                                                tmp_path: Path) -> None:
    site = copy_site(sites["onnx"], tmp_path)
    add_module(site, "leak.js", "window.webml.ready.then(() => setTimeout(() => "
                                "fetch('webml.json?input=secret'), 0));")
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 3))
    assert not report.ok
    assert [r.url.split("?")[1] for r in report.after_load] == ["input=secret"]
    assert "after load: GET" in format_report(report)


def test_a_hanging_backend_is_stopped_by_the_timeout(sites: dict[str, Path], chromium: Path,
                                                     tmp_path: Path) -> None:
    site = copy_site(sites["onnx"], tmp_path)
    (site / "js" / "runtimes" / "ort.js").write_text(
        "export function load() { return new Promise(() => {}); }\n")
    # A test-only page: pin the changed module, so only the hang can stop it.
    shutil.copy(static_root() / "index.html", site / "index.html")
    pin_page_scripts(site)
    manifest = json.loads((site / "webml.json").read_text())
    for file in manifest["page"]:
        if file["path"] == "js/runtimes/ort.js":
            file["sha256"] = sha256_file(site / file["path"])
    (site / "webml.json").write_text(json.dumps(manifest))
    report = verify_site(site, VerifyOptions(("wasm",), chromium, timeout_s=3, repeats=1,
                                             watch_s=0))
    (result,) = report.results
    assert result.status == "error"
    assert "loading on wasm timed out after 3 s" in result.detail


def test_unavailable_backends_pass_unless_required(converted: dict[str, Path], chromium: Path,
                                                  tmp_path: Path) -> None:
    site = build_site(converted["onnx"], tmp_path / "site", BuildOptions(backends=("wasm",)))
    report = verify_site(site.out_dir, VerifyOptions(("webgpu", "wasm"), chromium, 60, 1,
                                                     watch_s=0))
    assert [r.status for r in report.results] == ["unavailable", "pass"]
    assert "not in this site" in report.results[0].detail
    assert report.ok
    required = verify_site(site.out_dir, VerifyOptions(("webgpu", "wasm"), chromium, 60, 1,
                                                        require=("webgpu",), watch_s=0))
    assert not required.ok


@pytest.mark.parametrize("path", ["js/outputs.js",
                                  "vendor/onnxruntime-web-1.30.0/ort.wasm.min.mjs"])
def test_a_changed_script_stops_the_page(sites: dict[str, Path], chromium: Path,
                                         tmp_path: Path, path: str) -> None:
    site = copy_site(sites["onnx"], tmp_path)
    with (site / path).open("a") as handle:
        handle.write("\n// changed after the build\n")
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 5, 1, watch_s=0))
    (result,) = report.results
    assert result.status == "error", format_report(report)


def test_several_inputs_int64_and_many_shards_run_in_the_page(
        two_inputs_onnx: Path, keras_files: dict[str, Path], chromium: Path,
        tmp_path: Path) -> None:
    from converter import ConvertOptions

    int_site = build_site(two_inputs_onnx, tmp_path / "ints", BuildOptions(backends=("wasm",)))
    sharded = build_site(keras_files["keras"], tmp_path / "shards", BuildOptions(
        backends=("wasm",), convert=ConvertOptions(shard_bytes=1500)))
    assert len(sharded.manifest.files) > 3  # model.json and several shards
    for site in (int_site, sharded):
        report = verify_site(site.out_dir, VerifyOptions(("wasm",), chromium, 60, 1, samples=2,
                                                         watch_s=0))
        assert report.ok, format_report(report)


@pytest.mark.parametrize(("target", "mode"), [("tfjs", "uint8"), ("tfjs", "float16"),
                                              ("onnx", "float16"), ("onnx", "uint8")])
def test_quantized_sites_pass_on_wasm(keras_files: dict[str, Path], chromium: Path,
                                      tmp_path: Path, target: str, mode: str) -> None:
    from converter import ConvertOptions

    site = build_site(keras_files["keras"], tmp_path / "site", BuildOptions(
        backends=("wasm",), convert=ConvertOptions(target=target, quantize=mode,
                                                   quantize_samples=4)))
    report = verify_site(site.out_dir, VerifyOptions(("wasm",), chromium, 60, 1, samples=2,
                                                     watch_s=0))
    assert report.ok, format_report(report)
