"""`python -m webapp` runs the `webml` command."""

from webapp.cli import cli

cli()
