"""One module per CLI subcommand; each registers itself with ``netdsl.cli.command``."""
