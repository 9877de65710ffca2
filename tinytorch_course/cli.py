"""The ``tinytorch`` command: export notebooks to the package, run the course, build the book."""
import argparse
import sys
from pathlib import Path

from tinytorch_course import ROOT


def _cmd_export(args):
    from tinytorch_course.export import export, stale_files

    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run `tinytorch export` to regenerate the package from source/", file=sys.stderr)
        return 1 if stale else 0
    for nb_path, target in export(args.notebooks):
        print(f"{nb_path} -> {target.relative_to(ROOT)}")
    return 0


def _cmd_reset(args):
    from tinytorch_course.export import export

    for _, target in export():
        print(f"restored {target.relative_to(ROOT)}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="tinytorch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "export",
        help="export notebooks into the tinytorch package",
        description="Export the '#| export' cells of module notebooks into the tinytorch package. "
        "With no notebook, export every instructor notebook in source/ (the reference). "
        "Give your own filled-in release notebook to run the milestones on your code.",
    )
    p.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK", help="module notebook(s) to export")
    p.add_argument("--check", action="store_true", help="only report package files that differ from source/")
    p.set_defaults(func=_cmd_export)

    p = commands.add_parser(
        "reset",
        help="restore the reference package from source/",
        description="Overwrite every exported package file with the reference export of source/.",
    )
    p.set_defaults(func=_cmd_reset)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
