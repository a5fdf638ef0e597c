"""Command-line entry points; each module here is one `lidtool` subcommand."""
