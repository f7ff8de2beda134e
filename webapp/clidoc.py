"""Write the CLI reference, docs/cli.md, from the click definitions in webapp/cli.py.

Run ``python -m webapp.clidoc > docs/cli.md`` after changing a command or an
option; ``tests/unit/test_docs.py`` fails while the file and the definitions
disagree. Every command and option is found by walking the click group, so a
new one is documented without touching this module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

REGENERATE = "python -m webapp.clidoc > docs/cli.md"
# click 8.2+ marks an option with no default with this sentinel (older: None).
_UNSET = getattr(click.core, "UNSET", None)

_INTRO = """\
# Command-line reference

Generated from the click definitions in `webapp/cli.py` by `{regenerate}`;
do not edit by hand (`tests/unit/test_docs.py` fails when the two disagree).

Every command takes `-h`/`--help`. Errors are one line,
`error: <what> (<how to fix it>)`, with exit status {error_exit}, and leave no
half-written output; `webml verify` exits with {verify_exit} when a check fails.
"""


def walk(group: click.Group, prefix: str = "webml") -> Iterator[tuple[str, click.Command]]:
    """Yield (full command name, command) for every visible command, in definition order."""
    for name, command in group.commands.items():
        if command.hidden:
            continue
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from walk(command, path)


def render(group: click.Group, *, error_exit: int, verify_exit: int) -> str:
    """The whole reference as Markdown: an index, then one section per command."""
    lines = [_INTRO.format(regenerate=REGENERATE, error_exit=error_exit,
                           verify_exit=verify_exit)]
    commands = list(walk(group))
    lines.append("| command | what it does |\n| --- | --- |")
    lines.extend(f"| [`{path}`](#{_anchor(path)}) | {_cell(command.get_short_help_str(200))} |"
                 for path, command in commands)
    lines.append("")
    root = click.Context(group, info_name="webml", **group.context_settings)
    lines.append(_options_table(group.params, root, title="Options of `webml` itself"))
    for path, command in commands:
        lines.append(section(path, command, root))
    return "\n".join(lines).rstrip() + "\n"


def section(path: str, command: click.Command, root: click.Context) -> str:
    """One command: heading, usage line, its help text and its options."""
    ctx = click.Context(command, info_name=path.split(" ", 1)[1], parent=root,
                        **command.context_settings)
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    parts = [f"## {path}", "", f"    {usage}", "", (command.help or "").strip(), ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        names = ", ".join(f"`{p.make_metavar(ctx)}`" for p in arguments)
        parts += [f"Arguments: {names}.", ""]
    if isinstance(command, click.Group):
        subcommands = ", ".join(f"`{name}`" for name in command.commands)
        parts += [f"Subcommands: {subcommands}.", ""]
    parts.append(_options_table(command.params, ctx, title=None))
    return "\n".join(parts)


def _options_table(params: list[click.Parameter], ctx: click.Context,
                   title: str | None) -> str:
    options = [p for p in params if isinstance(p, click.Option) and not p.hidden]
    rows = [f"**{title}**\n"] if title else []
    rows.append("| option | value | default | meaning |\n| --- | --- | --- | --- |")
    rows.extend(f"| {_flags(p)} | {_value(p, ctx)} | {_default(p, ctx)} | {_cell(p.help or '')} |"
                for p in options)
    help_flags = ", ".join(f"`{flag}`" for flag in ctx.help_option_names)
    rows.append(f"| {help_flags} | flag |  | Show the help and exit. |")
    return "\n".join(rows) + "\n"


def _flags(option: click.Option) -> str:
    flags = " / ".join(", ".join(f"`{opt}`" for opt in group)
                       for group in (option.opts, option.secondary_opts) if group)
    return _cell(flags)


def _value(option: click.Option, ctx: click.Context) -> str:
    if option.is_flag:
        return "flag"
    if option.metavar:
        text = f"`{option.metavar}`"
    else:
        text = _type_name(option.type)
    return _cell(text + (", repeatable" if option.multiple else ""))


def _type_name(kind: click.ParamType) -> str:
    if isinstance(kind, click.Choice):
        return " | ".join(f"`{choice}`" for choice in kind.choices)
    if isinstance(kind, click.Path):
        if not kind.dir_okay:
            return "file"
        return "folder" if not kind.file_okay else "path"
    if isinstance(kind, click.IntRange | click.FloatRange):
        base = "integer" if isinstance(kind, click.IntRange) else "number"
        if kind.min is not None and kind.max is not None and not (kind.min_open or
                                                                  kind.max_open):
            return f"{base} {kind.min} to {kind.max}"
        low = f" {'>' if kind.min_open else '≥'} {kind.min}" if kind.min is not None else ""
        high = f" {'<' if kind.max_open else '≤'} {kind.max}" if kind.max is not None else ""
        return base + low + ("," if low and high else "") + high
    return {"integer": "integer", "float": "number", "boolean": "true/false"}.get(kind.name,
                                                                                 "text")


def _default(option: click.Option, ctx: click.Context) -> str:
    if option.required:
        return "required"
    value = option.get_default(ctx, call=False)
    if option.is_flag and option.secondary_opts and value is None:
        return ""  # an on/off switch left unset: the command decides
    if value in (None, _UNSET, "", ()) or (option.is_flag and value is False):
        return ""
    if option.is_flag:
        return "on"
    return f"`{value}`"


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading made of words and spaces."""
    return heading.lower().replace(" ", "-")


def main() -> None:
    """Print the reference for the ``webml`` command."""
    from webapp.cli import EXIT_ERROR, EXIT_VERIFY_FAILED, cli

    sys.stdout.write(render(cli, error_exit=EXIT_ERROR, verify_exit=EXIT_VERIFY_FAILED))


if __name__ == "__main__":
    main()
