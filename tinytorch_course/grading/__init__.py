"""Course commands of the ``tinytorch`` CLI, over nbgrader's API, one module per step:

``tinytorch course release``           releasing.py       source/ -> release/ (student notebooks)
``tinytorch course student-edition``   edition.py         what students get: no solution, no hidden test
``tinytorch course publish-solution``  edition.py         a module's reference code into a student edition
``tinytorch course collect``           collecting.py      folders or zip archives -> submitted/
``tinytorch course grade``             autograding.py     submitted/ -> autograded/ and gradebook.db, in
                                       worker.py          parallel, one process per submission, each
                                       recording.py       result merged by the grading process alone
``tinytorch course feedback``          feedback_pages.py  HTML feedback, hidden tests left out
``tinytorch course export-grades``     grades.py          grades -> CSV
``tinytorch check NN``                 checking.py        a student's notebook against the visible tests

Every module ``source/NN_name/NN_name.ipynb`` is the nbgrader assignment ``NN_name``. Submitted
code runs only in the sandbox of ``sandbox.py`` (bubblewrap around the kernel of ``kernel.py``).
The ``course`` commands exist where ``source/`` does (the instructor's repository), not in the
student edition. The functions of the steps are importable from here, e.g.
``from tinytorch_course.grading import check``; nbgrader is imported only when one is used.
"""
import importlib
from pathlib import Path

from tinytorch_course import ROOT, SOURCE
from tinytorch_course.grading.common import reported

PUBLIC = {  # name -> module of this package that defines it
    "GradingError": "common", "modules": "common", "find_module": "common", "gradebook_url": "common",
    "generate": "releasing", "release": "releasing", "student_edition": "edition", "publish_solution": "edition",
    "collect": "collecting", "submissions": "autograding", "grade": "autograding", "summary": "autograding",
    "record": "recording", "feedback": "feedback_pages", "export_grades": "grades", "check": "checking",
}
__all__ = list(PUBLIC)


def __getattr__(name):
    if name in PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.{PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _shown(path):
    path = Path(path)
    return path.relative_to(ROOT) if path.is_absolute() and path.is_relative_to(ROOT) else path


def _names(args):
    from tinytorch_course.grading.common import find_module

    return [find_module(m) for m in args.modules] if args.modules else None


def _release(args):
    from tinytorch_course.grading.releasing import release

    for dest in release(names=_names(args)):
        print(f"released {_shown(dest)}")
    return 0


def _student_edition(args):
    from tinytorch_course.grading.edition import student_edition

    out = student_edition(args.out, archive=args.zip)
    print(f"student edition written to {out}" + (f" (and {out.with_suffix('.zip')})" if args.zip else ""))
    return 0


def _publish_solution(args):
    from tinytorch_course.grading.edition import publish_solution

    for module in args.modules:
        print(f"published {_shown(publish_solution(module, args.edition))}")
    return 0


def _collect(args):
    from tinytorch_course.grading.collecting import collect

    collected, skipped = collect(args.paths)
    for path in collected:
        print(f"collected {_shown(path)}")
    for source, reason in skipped:
        print(f"skipped {source}: {reason}")
    return 1 if skipped else 0


def _grade(args):
    from tinytorch_course.grading.autograding import grade, summary

    results = grade(names=_names(args), students=args.students or None, workers=args.workers, timeout=args.timeout,
                    cell_timeout=args.cell_timeout, unsafe=args.unsafe_no_sandbox)
    print(summary(results) if results else "no submissions found in submitted/STUDENT/NN_name/")
    return 0


def _feedback(args):
    from tinytorch_course.grading.feedback_pages import feedback

    for page in feedback(names=_names(args)):
        print(f"feedback {_shown(page)}")
    return 0


def _export_grades(args):
    from tinytorch_course.grading.grades import export_grades

    print(f"grades written to {export_grades(args.to)}")
    return 0


def _check(args):
    from tinytorch_course.grading.checking import check, report
    from tinytorch_course.grading.common import find_module
    from tinytorch_course import RELEASE

    result = check(args.module, args.notebook)
    print(report(find_module(args.module, RELEASE), args.notebook or "the release notebook", result))
    return 0 if result["status"] == "graded" and result["score"] == result["max_score"] else 1


def add_commands(commands):
    p = commands.add_parser(
        "check", help="run a module's visible tests on your notebook",
        description="Grade your notebook the way autograding does, with the tests you can see "
        "(the hidden tests run only when it is graded), and print a per-test summary with the "
        "failing line and message of each failing test.")
    p.add_argument("module", help="module number or name, e.g. 01")
    p.add_argument("--notebook", type=Path, default=None,
                   help="your notebook (default: release/NN_name/NN_name.ipynb)")
    p.set_defaults(func=reported(_check))
    if not SOURCE.is_dir():  # the student edition: no instructor commands
        return

    course = commands.add_parser(
        "course", help="instructor commands: release, student-edition, collect, grade, feedback, export-grades",
        description="Run the nbgrader course from the repository root (configuration: nbgrader_config.py).")
    steps = course.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name, func, help, description=None):
        parser = steps.add_parser(name, help=help, description=description or help)
        parser.set_defaults(func=reported(func))
        return parser

    p = step("release", _release, "generate the student notebooks of every module into release/",
             "Generate release/NN_name/ from source/NN_name/ with nbgrader (solutions and hidden tests "
             "removed) and record each module's graded cells in gradebook.db.")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules (e.g. 01 or 01_tensor)")

    p = step("student-edition", _student_edition, "write what students get into a new folder (a git repository)",
             "Write the student edition: release notebooks, milestones, book, course tools and a tinytorch "
             "package of stubs; no source/, solution, hidden test or gradebook.")
    p.add_argument("out", type=Path, metavar="OUT", help="new folder to write")
    p.add_argument("--zip", action="store_true", help="also write OUT.zip")

    p = step("publish-solution", _publish_solution, "publish modules' reference code into a student edition",
             "Add solutions/NN_name/NN_name.ipynb (no hidden tests) to the edition and export it into its "
             "package, so that `tinytorch reset` there restores the solution instead of the stubs.")
    p.add_argument("modules", nargs="+", metavar="MODULE", help="modules to publish (e.g. 03)")
    p.add_argument("--edition", type=Path, required=True, help="the student edition folder")

    p = step("collect", _collect, "copy submissions from folders or zip archives into submitted/",
             "Copy STUDENT/NN_name.ipynb, STUDENT/NN_name/any.ipynb or STUDENT_NN_name.ipynb into "
             "submitted/STUDENT/NN_name/; report (and skip) links, paths outside an archive, invalid "
             "student ids and second submissions.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folder or .zip of submissions")

    p = step("grade", _grade, "autograde submitted/ into autograded/ and gradebook.db, in parallel",
             "Autograde every submitted/STUDENT/NN_name/ (one process per submission, N at a time, each "
             "kernel in a bubblewrap sandbox), merge the scores into gradebook.db and print a summary.")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules")
    p.add_argument("--student", dest="students", action="append", metavar="ID", help="only this student (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="parallel graders (default: number of cores)")
    p.add_argument("--timeout", type=int, default=None, help="seconds per submission (default: nbgrader_config.py)")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: nbgrader_config.py)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run submissions with your own user's rights, unsandboxed (only for code you trust)")

    p = step("feedback", _feedback, "generate HTML feedback into feedback/ (hidden tests left out)")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules")

    p = step("export-grades", _export_grades, "export grades to CSV",
             "Write one row per (student, module) with score and maximum, from gradebook.db.")
    p.add_argument("--to", type=Path, default=Path("grades.csv"), help="CSV file to write (default: grades.csv)")
