"""`webml serve` under load: requests/s and latency percentiles over loopback.

    python benchmarks/serve.py [--site SITE] [--requests 2000]
                               [--concurrency 1,10,50] [--json results.json]

Starts `webml serve` in its own process (so the clients here do not share its
interpreter), then for each concurrency sends --requests GETs over the page's
own files (index.html, webml.json, sw.js, the CSS, the scripts, the model),
each on a new connection as the server closes after every answer. Every answer
is checked byte for byte against the file; a wrong or failed one counts as an
error. Without --site, a site is built from a tiny ONNX model.

Latency is from connect to the last byte. `overflows` is how many connections
the kernel dropped because the listen backlog was full while the row ran
(Linux's TcpExt ListenOverflows counter; blank elsewhere): each one costs a
client a SYN retransmit of a second or more.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.table import text_table  # noqa: E402

NETSTAT = Path("/proc/net/netstat")


@dataclasses.dataclass(frozen=True)
class Row:
    """One concurrency level: how many requests, how fast, how many went wrong."""

    concurrency: int
    requests: int
    errors: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    overflows: int | None


def tiny_site(folder: Path) -> Path:
    """Build a site from a two-node ONNX model: the page's files are what is served."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from converter import ConvertOptions, convert_model
    from webapp.build import build_site

    weights = numpy_helper.from_array(np.linspace(-1, 1, 40, dtype=np.float32).reshape(8, 5), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        "bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 5])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "bench.onnx"))
    converted = convert_model(folder / "bench.onnx", folder / "model", ConvertOptions(image=False))
    return build_site(converted.out_dir, folder / "site").out_dir


def page_files(site: Path) -> dict[str, bytes]:
    """URL path -> bytes of the files a visitor fetches besides the runtime."""
    files = [site / "index.html", site / "webml.json", site / "sw.js",
             *sorted((site / "css").rglob("*")), *sorted((site / "js").rglob("*")),
             *sorted((site / "model").rglob("*"))]
    return {"/" + f.relative_to(site).as_posix(): f.read_bytes() for f in files if f.is_file()}


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped for a full listen backlog, where it keeps one."""
    if not NETSTAT.is_file():
        return None
    lines = [line.split() for line in NETSTAT.read_text().splitlines()
             if line.startswith("TcpExt:")]
    names, values = lines[0], lines[1]
    return int(values[names.index("ListenOverflows")]) if "ListenOverflows" in names else None


def start_server(site: Path) -> tuple[subprocess.Popen[str], int]:
    """`webml serve SITE --port 0` in a child process; the process and the port it chose."""
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve", str(site), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # serving SITE at http://127.0.0.1:PORT/ (Ctrl-C to stop)
    if " at http://" not in line:
        process.kill()
        raise SystemExit(f"webml serve did not start: {line.strip() or 'no output'}")
    port = int(line.split(" at http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    return process, port


def measure(port: int, files: dict[str, bytes], requests: int, concurrency: int) -> Row:
    """Send ``requests`` GETs, ``concurrency`` at a time, and time each."""
    paths = [list(files)[i % len(files)] for i in range(requests)]

    def get(path: str) -> float | None:
        """Seconds from connect to the last byte; None when the answer is wrong or failed."""
        began = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            conn.close()
        except OSError:
            return None
        if response.status != 200 or body != files[path]:
            return None
        return time.perf_counter() - began

    overflows = listen_overflows()
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(get, paths))
    elapsed = time.perf_counter() - began
    after = listen_overflows()
    times = sorted(t * 1000 for t in results if t is not None)

    def percentile(q: int) -> float:
        if len(times) < 2:
            return times[0] if times else float("nan")
        return statistics.quantiles(times, n=100, method="inclusive")[q - 1]

    return Row(concurrency, requests, results.count(None), requests / elapsed,
               percentile(50), percentile(99), max(times, default=float("nan")),
               None if overflows is None or after is None else after - overflows)


def table(rows: list[Row]) -> list[str]:
    """The rows as a text table."""
    cells = [["concurrency", "requests", "errors", "requests/s", "p50 ms", "p99 ms", "max ms",
              "overflows"]]
    cells += [[str(r.concurrency), str(r.requests), str(r.errors), f"{r.requests_per_s:.0f}",
               f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.max_ms:.1f}",
               "" if r.overflows is None else str(r.overflows)] for r in rows]
    return text_table(cells)


def main() -> None:
    """Command line: measure each concurrency level against one server."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build a tiny one)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="webml-serve-bench-") as tmp:
        site = args.site or tiny_site(Path(tmp))
        files = page_files(site)
        process, port = start_server(site)
        try:
            rows = []
            for level in levels:
                print(f"{args.requests} GETs, {level} at a time", file=sys.stderr, flush=True)
                rows.append(measure(port, files, args.requests, level))
        finally:
            process.terminate()
            process.wait(timeout=10)
    print("\n".join(table(rows)))
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
