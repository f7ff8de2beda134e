"""The ONNX quantized variants that need more than a data type run in onnxruntime-web's wasm.

Static int8 (QDQ, fused into QLinearConv and QGemm when the session is created)
and 4-bit weights (com.microsoft MatMulNBits) on a classifier trained on digits:
each site must load on WebAssembly and compute what onnxruntime computes natively,
within the tolerance the quantization's measured error sets.
"""

from pathlib import Path

import onnx
import pytest
from trained import Digits, digits_cnn

from converter import ConvertOptions
from converter.manifest import read_manifest
from webapp.build import BuildOptions, build_site
from webapp.verify import VerifyOptions, format_report, verify_site


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Digits:
    return digits_cnn(tmp_path_factory.mktemp("digits"))


@pytest.mark.parametrize(("mode", "operator"), [("int8", "QuantizeLinear"),
                                                ("int4", "MatMulNBits")])
def test_quantized_digits_sites_pass_on_wasm(digits: Digits, chromium: Path, tmp_path: Path,
                                             mode: str, operator: str) -> None:
    site = build_site(digits.model, tmp_path / "site", BuildOptions(
        backends=("wasm",), convert=ConvertOptions(
            quantize=mode, image=False, calibration={"x": digits.train_x[:64]})))
    model = onnx.load(str(next(site.out_dir.rglob("model.onnx"))))
    assert operator in {node.op_type for node in model.graph.node}
    report = verify_site(site.out_dir, VerifyOptions(("wasm",), chromium, 60, 3, samples=4,
                                                     watch_s=0))
    text = format_report(report)
    assert report.ok, text
    (result,) = report.results
    assert (result.backend, result.status, result.checked) == ("wasm", "pass", 5), text
    # The tolerance is the quantization's own (twice its measured error), the same on any
    # CPU's kernels; the answers, top-1 of each input, must agree exactly.
    manifest = read_manifest(site.out_dir)
    assert manifest.quantization is not None
    assert manifest.golden.atol == max(1e-4, 2 * manifest.quantization.max_abs_error), text
    assert result.max_abs is not None and result.max_abs <= manifest.golden.atol, text
    assert result.top1 == (5, 5), text
