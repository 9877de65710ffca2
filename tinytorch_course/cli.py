"""The ``tinytorch`` command: export notebooks to the package, run the course, build the book."""
import argparse
import sys

from tinytorch_course import book, export, grading, olympics, status


def build_parser():
    parser = argparse.ArgumentParser(prog="tinytorch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (export, grading, book, status, olympics):
        module.add_commands(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
