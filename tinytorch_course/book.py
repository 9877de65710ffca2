"""(being written) book commands of the tinytorch CLI."""


def add_commands(commands):
    """Register this module's subcommands on the CLI's subparsers."""
