"""webml's own ``converter`` and ``webapp``, imported where a user's files cannot shadow them.

Python puts the script's folder (or the current one) first on ``sys.path``, so
a user's ``converter.py`` or ``webapp.py`` is what ``import converter`` finds,
and webml's modules, which import each other as ``converter.x`` and
``webapp.x``, would load the user's file instead. Here both packages are
imported from the folder beside this one (site-packages, or the checkout)
under private names, ``webml._impl.converter`` and ``webml._impl.webapp``;
each module of theirs gets an ``__import__`` that maps ``converter`` and
``webapp`` to those names. A user's own ``converter`` and ``webapp`` stay
theirs, in the same process, and ``import webml`` never touches them.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path
from typing import Any

PREFIX = "webml._impl"
OWN = ("converter", "webapp")
# The folder that holds converter/, webapp/ and webml/.
ROOT = Path(__file__).resolve().parent.parent


def _own_import(name: str, globals: dict[str, Any] | None = None,
                locals: dict[str, Any] | None = None, fromlist: Any = (),
                level: int = 0) -> types.ModuleType:
    """``__import__`` for webml's modules: ``converter.x`` means webml's, never a user's."""
    top = name.partition(".")[0]
    if level != 0 or top not in OWN:
        return builtins.__import__(name, globals, locals, fromlist, level)
    leaf = builtins.__import__(f"{PREFIX}.{name}", globals, locals, fromlist, 0)
    # `from converter.x import y` binds from the leaf; `import converter.x` binds the top package.
    return leaf if fromlist else sys.modules[f"{PREFIX}.{top}"]


_BUILTINS = {**builtins.__dict__, "__import__": _own_import}


class _Loader(importlib.abc.Loader):
    """Runs a module of webml's with :func:`_own_import`; everything else is the file loader's."""

    def __init__(self, inner: importlib.machinery.SourceFileLoader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = _BUILTINS
        exec(self._inner.get_code(module.__name__), module.__dict__)

    def __getattr__(self, name: str) -> Any:
        # get_source (tracebacks), is_package, get_resource_reader ...
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``webml._impl.converter...`` and ``webml._impl.webapp...`` in :data:`ROOT`."""

    def find_spec(self, fullname: str, path: Any,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PREFIX + "."):
            return None
        rest = fullname[len(PREFIX) + 1:]
        if rest.partition(".")[0] not in OWN:
            return None
        search = [str(ROOT)] if "." not in rest else path
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader)  # type: ignore[arg-type]
        return spec


def install() -> None:
    """Make ``webml._impl`` importable (once per process)."""
    if PREFIX in sys.modules:
        return
    package = types.ModuleType(PREFIX, "webml's converter and webapp, under private names")
    package.__path__ = []  # a package whose children only _Finder finds
    sys.modules[PREFIX] = package
    sys.meta_path.insert(0, _Finder())


def own(name: str) -> types.ModuleType:
    """Import webml's module ``name`` (e.g. ``"converter.pipeline"``), never a user's."""
    install()
    return importlib.import_module(f"{PREFIX}.{name}")
