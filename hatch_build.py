"""Hatchling build hook: the wheel carries every pinned browser runtime file.

A site ships files from npm packages (onnxruntime-web, TensorFlow.js). A pip
user has no checkout and no npm, so the wheel takes each file that
webapp/runtimes.py pins from node_modules (``npm ci`` with package-lock.json,
or $WEBML_NODE_MODULES) at build time, checks its sha256 against the pin, and
puts it in ``webapp/node_modules/<package>/<path>``, where
``webapp.runtimes.node_modules()`` finds it. An editable install reads the
checkout's node_modules instead, as a checkout always has.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _load_runtimes(root: Path) -> types.ModuleType:
    """webapp/runtimes.py, loaded alone: the build environment has no numpy or TensorFlow.

    Its only import of webml's is converter.errors (plain Python); an empty
    ``converter`` package stands in so that converter/__init__.py, which needs
    numpy, does not run.
    """
    saved = {name: sys.modules.pop(name) for name in list(sys.modules)
             if name == "converter" or name.startswith("converter.")}
    stub = types.ModuleType("converter")
    stub.__path__ = [str(root / "converter")]
    sys.modules["converter"] = stub
    try:
        spec = importlib.util.spec_from_file_location("_webml_runtimes",
                                                      root / "webapp" / "runtimes.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.modules.pop("_webml_runtimes", None)
        for name in [n for n in sys.modules if n == "converter" or n.startswith("converter.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class CustomBuildHook(BuildHookInterface):
    """Adds the pinned runtime files to the wheel, each checked against its sha256."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        runtimes = _load_runtimes(root)
        modules = Path(os.environ.get("WEBML_NODE_MODULES") or root / "node_modules")
        problems = []
        for file in runtimes.all_files():
            source = modules / file.package / file.path
            if not source.is_file():
                problems.append(f"{file.package}/{file.path} is missing")
            elif (digest := _sha256(source)) != file.sha256:
                problems.append(f"{file.package}/{file.path} has sha256 {digest[:12]}..., "
                                f"not the pinned {file.sha256[:12]}...")
            else:
                build_data["force_include"][str(source)] = (
                    f"webapp/node_modules/{file.package}/{file.path}")
        if problems:
            raise RuntimeError(f"cannot build the wheel: runtime file {problems[0]}"
                               f"{f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''}"
                               f" in {modules} (run `npm ci` first)")
