"""The documentation cannot drift: the CLI reference, commands, links and manifest fields."""

from __future__ import annotations

import re
from pathlib import Path

import click
import numpy as np

from webapp.cli import EXIT_ERROR, EXIT_VERIFY_FAILED, cli
from webapp.clidoc import REGENERATE, render, walk

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Shell words after which a command line stops being webml's arguments.
STOP = {"|", "||", "&&", ";", ">", ">>", "#", "2>&1"}


def _reference() -> str:
    return render(cli, error_exit=EXIT_ERROR, verify_exit=EXIT_VERIFY_FAILED)


def test_cli_reference_matches_the_click_definitions() -> None:
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == _reference(), (
        f"docs/cli.md disagrees with webapp/cli.py: regenerate it with `.venv/bin/{REGENERATE}`")


def test_reference_has_every_command_and_option_in_its_section() -> None:
    sections = _reference().split("\n## ")[1:]
    by_command = {text.split("\n", 1)[0]: text for text in sections}
    commands = list(walk(cli))
    assert [path for path, _ in commands] == list(by_command)
    assert {"webml convert", "webml build", "webml serve", "webml verify",
            "webml bench"} <= set(by_command)
    for path, command in commands:
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for flag in (*param.opts, *param.secondary_opts):
                    assert f"`{flag}`" in by_command[path], f"{path} {flag} is not documented"


def _code(text: str) -> list[str]:
    """Lines of code in Markdown: indented or fenced blocks, and inline code spans."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            lines.append(line.strip())
        else:
            lines.extend(re.findall(r"`([^`]+)`", line))
    return lines


def _webml_calls() -> list[tuple[Path, list[str]]]:
    calls = []
    for doc in DOCS:
        for line in _code(doc.read_text(encoding="utf-8")):
            # A command line starts with webml (or a path to it), perhaps after a prompt.
            match = re.match(r"(?:\$\s+)?(?:[\w./-]*/)?webml ([a-z][a-z-]*(?: .*)?)$", line)
            if match is None:
                continue
            words: list[str] = []
            for word in match.group(1).split():
                if word in STOP:
                    break
                words.append(word)
            calls.append((doc, words))
    return calls


def test_every_webml_command_in_the_docs_exists_with_its_options() -> None:
    calls = _webml_calls()
    assert len(calls) > 20  # the docs do show commands: this test checks something
    for doc, words in calls:
        command: click.Command = cli
        where = f"{doc.relative_to(ROOT)}: webml {' '.join(words)}"
        rest = list(words)
        while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
            name = rest.pop(0)
            assert name in command.commands, f"{where}: no command {name!r}"
            command = command.commands[name]
        known = {flag for p in command.params if isinstance(p, click.Option)
                 for flag in (*p.opts, *p.secondary_opts)} | {"-h", "--help"}
        for word in rest:
            if word.startswith("-") and word != "-":
                assert word.split("=", 1)[0] in known, f"{where}: no option {word}"


def test_scripts_named_in_the_docs_exist() -> None:
    named = {name for doc in DOCS
             for name in re.findall(r"\./scripts/([\w.-]+)", doc.read_text(encoding="utf-8"))}
    assert {"demo", "test"} <= named
    for name in named:
        assert (ROOT / "scripts" / name).is_file(), f"docs name ./scripts/{name}, which is missing"


def test_relative_links_resolve() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            assert path.exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_readme_setup_commands_are_the_ones_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n    ./scripts/demo " in readme and "\n    ./scripts/test " in readme
    assert "exec ./scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_manifest_doc_names_every_field() -> None:
    from converter.manifest import (
        Evaluation,
        Feature,
        Golden,
        ImagePreprocess,
        Manifest,
        ModelFile,
        Vendor,
        encode_array,
    )
    from converter.quantize import QuantizationReport
    from converter.spec import TensorSpec

    array = np.zeros((1, 2), np.float32)
    file = ModelFile("model.onnx", "0" * 64, 1)
    tensor = TensorSpec("x", "float32", (1, 2))
    parts = {
        "manifest": Manifest(
            "m", "onnx", "model.onnx", (file,), (tensor,), (tensor,),
            Golden({"x": array}, {"x": array}, 1e-4, 1e-3, "onnxruntime"),
            preprocess=ImagePreprocess(8, 8, 1), features=(Feature("a"),),
            quantization=QuantizationReport("uint8", 1, 4, 0.0, 1.0, 32),
            evaluation=Evaluation(10, 0.9, 0.8), variants={"wasm": "model.fused.onnx"},
            vendor=Vendor("onnxruntime-web", "1", ("wasm",), (file,), {"wasm": ("a",)}),
            page=(file,)).to_json(),
        "file": file.to_json(), "tensor": tensor.to_json(),
        "preprocess": ImagePreprocess(8, 8, 1).to_json(), "feature": Feature("a").to_json(),
        "quantization": QuantizationReport("uint8", 1, 4, 0.0, 1.0, 32).to_json(),
        "golden": Golden({}, {}, 1e-4, 1e-3, "onnxruntime").to_json(),
        "evaluation": Evaluation(10, 0.9, 0.8).to_json(),
        "array": encode_array(array),
        "string array": encode_array(np.array([["hello", "Café"]])),
        "vendor": Vendor("onnxruntime-web", "1", ("wasm",), (), {}).to_json(),
    }
    doc = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    missing = [f"{part}.{key}" for part, data in parts.items() for key in data
               if f"`{key}`" not in doc]
    assert not missing, f"docs/manifest.md does not describe {', '.join(missing)}: add them"


def test_generator_documents_nested_groups_and_escapes_table_cells() -> None:
    @click.group()
    def tool() -> None:
        """A tool."""

    @tool.group()
    def models() -> None:
        """Work with models."""

    @models.command(name="list")
    @click.option("--format", type=click.Choice(["a", "b"]), default="a", help="x | y")
    @click.option("--secret", hidden=True)
    def list_models(format: str, secret: str | None) -> None:
        """List the models."""

    text = render(tool, error_exit=2, verify_exit=1)
    assert [path for path, _ in walk(tool)] == ["webml models", "webml models list"]
    assert "## webml models list\n\n    webml models list [OPTIONS]\n\nList the models." in text
    assert "| `--format` | `a` \\| `b` | `a` | x \\| y |" in text
    assert "Subcommands: `list`." in text
    assert "--secret" not in text
