"""webml's site builder, server, browser checks and command line."""
