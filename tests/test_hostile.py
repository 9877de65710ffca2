"""Hostile submissions, all graded in ONE sandboxed run next to well-formed ones.

Each case is built from the first module's instructor notebook (full marks when graded honestly)
or its student version (0 points); the test checks the case's score and the note the run reports
for it, that the well-formed submissions in the same run are graded normally, that the package on
disk is untouched, that the gradebook is consistent, and that grading again changes nothing.

The escapes (reading the hidden tests, the gradebook, an instructor's secret; a socket to the
grading machine; processes that outlive the kernel) are built on the student version, so that an
escape that worked would also earn points. Each prints what it got in a plain cell; the tests read
those outputs. That each escape is closed by the sandbox and not by a wrong path is shown by
grading the same secret-reading submission with ``unsafe=True``: there, it reads the secret.
"""
import json
import os
import socket
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

import submissions
from tinytorch_course import PACKAGE, ROOT, SOURCE, grading, module_notebooks
from tinytorch_course.grading import sandbox

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]
NAME = MODULES[0]
CELL_TIMEOUT = 30  # seconds; honest cells take a few, on a loaded 2-core machine up to 10-15
MARKER = f"tinytorch-hostile-{os.getpid()}"  # in the environment of every process an escape starts
SECRET = "instructor-secret-7f3a"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def graded_tests(nb):
    return [c for c in nb.cells if meta(c).get("grade") and not meta(c).get("solution")]


def add_cell(nb, code):
    """A copy of ``nb`` with a plain code cell after its last solution cell."""
    nb = nbformat.from_dict(nb)
    index = max(i for i, c in enumerate(nb.cells) if meta(c).get("solution")) + 1
    nb.cells.insert(index, nbformat.v4.new_code_cell(code))
    return nb


def edit_tests(nb, edit):
    nb = nbformat.from_dict(nb)
    nb.cells = [new for cell in nb.cells for new in (edit(cell) if cell in graded_tests(nb) else [cell])]
    return nb


def to_markdown(cell):
    return [nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata, id=cell.id)]


def emptied(cell):
    cell.source = "pass"
    return [cell]


def more_points(cell):
    cell.metadata.nbgrader["points"] = 100
    return [cell]


def duplicated(cell):
    copy = nbformat.from_dict(json.loads(json.dumps(cell)))
    copy.source = "pass"
    copy.id = f"{cell.id}-copy"
    return [cell, copy]


CHEAT_BY_READING = f"""
import glob, json, os
solution, blocked = None, []
candidates = [{str(SOURCE / NAME / (NAME + '.ipynb'))!r}] + glob.glob("../../../source/*/*.ipynb") + glob.glob("/tmp/tinytorch-private-*/*/course/source/*/*.ipynb")
for path in candidates:
    try:
        cells = json.load(open(path))["cells"]
        solution = next("".join(c["source"]) for c in cells if c["metadata"].get("nbgrader", {{}}).get("solution"))
        break
    except OSError as err:
        blocked.append(type(err).__name__)
os.system("cat {SOURCE}/*/*.ipynb > leak.txt")
print("blocked:", blocked, "leaked bytes:", os.path.getsize("leak.txt"))
exec(solution.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
"""

CHEAT_BY_IMPORT = f"""
import importlib.util
try:
    from tinytorch.tensor import Tensor           # the package copy holds this submission's own export
    Tensor([1.0])
except NotImplementedError:
    spec = importlib.util.spec_from_file_location("reference", {str(PACKAGE / 'tensor.py')!r})
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)             # blocked: the repository is hidden
    Tensor = reference.Tensor
"""

OVERWRITE_PACKAGE = f"""
import pathlib, shutil, tinytorch
done = []
for target in (pathlib.Path({str(PACKAGE / 'tensor.py')!r}), pathlib.Path(tinytorch.__file__)):
    for name, attempt in (("write", lambda: target.write_text("raise SystemExit")), ("unlink", target.unlink),
                          ("rmtree", lambda: shutil.rmtree(target.parent))):
        try:
            attempt()
            done.append((name, str(target)))
        except OSError:
            pass
print("succeeded:", done)
"""

def escape(code):
    """A cell that tries ``code`` (which sets ``got``) and prints ``ESCAPE <what it got or the error>``."""
    body = "\n".join("    " + line for line in code.strip().split("\n"))
    return f"import os, sys\ntry:\n{body}\nexcept Exception as err:\n    got = type(err).__name__\nprint('ESCAPE', got)"


def escapes(root, port):
    """student id -> cell code of each escape attempt; ``root`` is the course folder of the run."""
    gradebook, secret = root / "gradebook.db", root / "instructor" / ".ssh" / "id_rsa"
    solution = SOURCE / NAME / f"{NAME}.ipynb"
    return {
        "sqlite-gradebook": escape(f"""
import sqlite3
db = sqlite3.connect("file:{gradebook}?mode=rw", uri=True, timeout=1)
db.execute("BEGIN EXCLUSIVE")                      # a held lock would stop the grading run
got = db.execute("SELECT count(*) FROM grade_cells").fetchone()"""),
        "outlives-kernel": escape(f"""
import multiprocessing, subprocess, time
os.environ["TINYTORCH_HOSTILE"] = {MARKER!r}
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
multiprocessing.get_context("spawn").Process(target=time.sleep, args=(600,), daemon=False).start()
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"])
got = "started"
"""),
        "dir-fd": escape(f"""
root = os.open("/", os.O_RDONLY)
os.listdir(root)
fd = os.open({str(solution)[1:]!r}, os.O_RDONLY, dir_fd=root)
got = os.read(fd, 100)"""),
        "gc-tampering": escape(f"""
import gc
for obj in gc.get_objects():                     # clear every list or set that names a path
    if isinstance(obj, (list, set)) and any(isinstance(x, str) and x.startswith("/") for x in list(obj)[:50]):
        try:
            obj.clear()
        except Exception:
            pass
got = open({str(solution)!r}).read(100)"""),
        "socket": escape(f"""
import socket
connection = socket.create_connection(("127.0.0.1", {port}), timeout=3)
connection.sendall(b"LEAK")
got = "connected\""""),
        "reads-secrets": escape(f"""
found = []
for path in ({str(secret)!r}, os.path.expanduser("~/.ssh/id_rsa"), {str(Path.home() / ".ssh")!r}, {str(SOURCE)!r}):
    try:
        found.append(open(path).read() if os.path.isfile(path) else os.listdir(path))
    except OSError as err:
        found.append(type(err).__name__)
got = found"""),
        "symlinks": escape("""
got = [sorted(os.listdir(".")), open("zero", "rb").read(10), open("gradebook-link", "rb").read(10)]"""),
        "fork-bomb": escape("""
import signal, time
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            time.sleep(60)
    children += 1
got = f"fork refused after {children} children\""""),
        "fills-disk": escape("""
written = 0
try:
    with open("filler", "wb") as f:
        for _ in range(100_000):
            f.write(b"x" * 2**20)
            written += 1
except OSError as err:
    got = f"{type(err).__name__} after {written} MiB"
else:
    got = f"wrote {written} MiB\""""),
    }


NOISY = """
import sys, warnings
import numpy as np
np.log(np.zeros(3))                          # RuntimeWarning in the student's own cell
print("debugging output", file=sys.stderr)
warnings.simplefilter("always")
_add = Tensor.__add__
def __add__(self, other):                   # every addition in the graded cells warns too
    np.log(np.zeros(1))
    return _add(self, other)
Tensor.__add__ = __add__
"""


def cases(solution, student):
    """student id -> (notebook or raw bytes, file name, expected score, expected note or None).

    Expected None: the score of "last-part-missing", the solution without its last region.
    "symlink-notebook" is a link to the instructor notebook (written by the fixture)."""
    full = sum(meta(c)["points"] for c in graded_tests(solution))
    all_but_last = range(submissions.count_regions(solution) - 1)
    return {
        "infinite-loop": (submissions.fill(solution, student, all_but_last, stub="while True:\n    pass"),
                          None, None, "time limit"),
        "last-part-missing": (submissions.fill(solution, student, all_but_last), None, None, None),
        "ignores-interrupt": (add_cell(solution, "import time\nwhile True:\n    try:\n        time.sleep(1)\n"
                                                  "    except KeyboardInterrupt:\n        pass"), None, full, "time limit"),
        "os-exit": (add_cell(solution, "import os\nos._exit(3)"), None, full, "kernel died"),
        "segfault": (add_cell(solution, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"), None, full, "kernel died"),
        "memory-bomb": (add_cell(solution, "def hog():\n    held = []\n    while True:\n        held.append(bytearray(2**28))\n"
                                           "try:\n    hog()\nexcept MemoryError:\n    print('MemoryError at the limit')"),
                        None, full, None),
        "tests-deleted": (edit_tests(student, lambda cell: []), None, 0, "deleted"),
        "tests-deleted-solution": (edit_tests(solution, lambda cell: []), None, full, "deleted"),
        "tests-edited": (edit_tests(student, emptied), None, 0, "code changed"),
        "tests-duplicated": (edit_tests(student, duplicated), None, 0, "appears 2 times"),
        "tests-to-markdown": (edit_tests(student, to_markdown), None, 0, "cell type"),
        "points-changed": (edit_tests(solution, more_points), None, full, "points"),
        "invalid-json": (b'{"cells": [', None, 0, "not a valid notebook"),
        "empty-file": (b"", None, 0, "empty"),
        "wrong-name": (solution, "my_tensor_work.ipynb", full, "wrong file name"),
        "huge-output": (add_cell(solution, "for _ in range(2000):\n    print('x' * 10_000)"), None, full, None),
        "stderr-noise": (add_cell(solution, NOISY), None, full, None),
        "reads-hidden-tests": (add_cell(student, CHEAT_BY_READING), None, 0, None),
        "imports-reference": (add_cell(student, CHEAT_BY_IMPORT), None, 0, None),
        "overwrites-package": (add_cell(solution, OVERWRITE_PACKAGE), None, full, None),
        "symlink-notebook": (None, None, 0, "is a link"),
    }




@pytest.fixture(scope="module")
def listener():
    """A TCP server on the grading machine's loopback that no submission should reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def write_submission(root, sid, nb, filename=None):
    folder = root / "submitted" / sid / NAME
    folder.mkdir(parents=True)
    path = folder / (filename or f"{NAME}.ipynb")
    path.write_bytes(nb) if isinstance(nb, bytes) else nbformat.write(nb, path)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory, listener):
    assert sandbox.problem() is None, sandbox.problem()  # bubblewrap is part of the set-up
    root = tmp_path_factory.mktemp("hostile")
    solution = nbformat.read(SOURCE / NAME / f"{NAME}.ipynb", as_version=4)
    student = nbformat.read(grading.generate(NAME, root / "release" / NAME, grading.gradebook_url(root)) / f"{NAME}.ipynb",
                            as_version=4)
    table = cases(solution, student)
    for sid, (nb, filename, _, _) in table.items():
        if nb is not None:
            write_submission(root, sid, nb, filename)
    (root / "submitted" / "symlink-notebook" / NAME).mkdir(parents=True)
    (root / "submitted" / "symlink-notebook" / NAME / f"{NAME}.ipynb").symlink_to(SOURCE / NAME / f"{NAME}.ipynb")
    secret = root / "instructor" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_text(SECRET)
    attempts = escapes(root, listener.getsockname()[1])
    for sid, code in attempts.items():
        base = solution if sid in ("fork-bomb", "fills-disk") else student
        folder = write_submission(root, sid, add_cell(base, code))
        if sid == "symlinks":
            (folder / "zero").symlink_to("/dev/zero")
            (folder / "gradebook-link").symlink_to(root / "gradebook.db")
    for name in MODULES[:2]:  # well-formed submissions in the same run
        folder = root / "submitted" / "honest" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.ipynb").write_bytes((SOURCE / name / f"{name}.ipynb").read_bytes())
    results = grading.grade(root, workers=2, cell_timeout=CELL_TIMEOUT, progress=False)
    return root, table, {(r["student"], r["assignment"]): r for r in results}, attempts


@pytest.mark.parametrize("sid", list(cases(*[nbformat.read(SOURCE / NAME / f"{NAME}.ipynb", as_version=4)] * 2)))
def test_hostile_case_is_graded_with_a_clear_result(run, sid):
    _, table, results, _ = run
    _, _, expected, note = table[sid]
    result = results[sid, NAME]
    if expected is None:  # a solution region that never returns costs what a missing one costs
        expected = results["last-part-missing", NAME]["score"]
        assert 0 < expected < result["max_score"]
    assert result["score"] == expected, (result["notes"], {k: v["error"] for k, v in result["cells"].items()})
    if note:
        assert any(note in n for n in result["notes"]), result["notes"]
    if expected:
        assert result["status"] == "graded"


def test_well_formed_submissions_in_the_same_run_get_full_marks(run):
    _, _, results, _ = run
    for name in MODULES[:2]:
        result = results["honest", name]
        assert result["status"] == "graded" and result["notes"] == []
        assert result["score"] == result["max_score"] > 0


def test_enormous_output_is_capped(run):
    root = run[0]
    assert (root / "autograded" / "huge-output" / NAME / f"{NAME}.ipynb").stat().st_size < 2_000_000


def test_submissions_cannot_touch_the_package_or_the_repository(run):
    root = run[0]
    assert (PACKAGE / "tensor.py").exists() and (PACKAGE / "__init__.py").exists()
    assert not any("SystemExit" in p.read_text() for p in PACKAGE.rglob("*.py"))
    assert "succeeded: []" in outputs(root, "overwrites-package", "text")  # its package copy is read-only
    assert not (ROOT / "leak.txt").exists() and not list(root.rglob("leak.txt"))


def test_cheating_fails_for_lack_of_access(run):
    root = run[0]
    text = outputs(root, "reads-hidden-tests", "text")
    assert "blocked: ['FileNotFoundError'] leaked bytes: 0" in text  # source/ is not in the sandbox
    assert "FileNotFoundError" in outputs(root, "imports-reference", "ename")


def escaped(root, sid):
    """What an escape attempt printed (``ESCAPE ...``)."""
    lines = [line for line in outputs(root, sid, "text").splitlines() if line.startswith("ESCAPE ")]
    assert len(lines) == 1, outputs(root, sid, "text") + outputs(root, sid, "evalue")
    return lines[0][len("ESCAPE "):]


@pytest.mark.parametrize("sid, expected", [
    ("sqlite-gradebook", "OperationalError"),          # the file is not there to open
    ("dir-fd", "FileNotFoundError"),
    ("gc-tampering", "FileNotFoundError"),
    ("socket", "ConnectionRefusedError"),              # its own loopback, not the grading machine's
    ("reads-secrets", "['FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError']"),
    ("symlinks", "FileNotFoundError"),                 # links are not staged
])
def test_escape_fails_and_scores_nothing(run, sid, expected):
    root, _, results, _ = run
    assert escaped(root, sid) == expected
    assert results[sid, NAME]["score"] == 0 and results[sid, NAME]["status"] == "graded"


def test_escape_works_without_the_sandbox(run, tmp_path):
    """The same submission, graded unsafely, reads the secret: the paths in the attempts are right."""
    root, _, _, attempts = run
    (tmp_path / "submitted" / "unsafe" / NAME).mkdir(parents=True)
    source = root / "submitted" / "reads-secrets" / NAME / f"{NAME}.ipynb"
    (tmp_path / "submitted" / "unsafe" / NAME / f"{NAME}.ipynb").write_bytes(source.read_bytes())
    grading.grade(tmp_path, workers=1, cell_timeout=CELL_TIMEOUT, progress=False, unsafe=True)
    nb = nbformat.read(tmp_path / "autograded" / "unsafe" / NAME / f"{NAME}.ipynb", as_version=4)
    assert SECRET in " ".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_nothing_reached_the_grading_machine(run, listener):
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_processes_started_by_a_submission_end_with_its_kernel(run):
    root = run[0]
    assert escaped(root, "outlives-kernel") == "started"  # processes could start; none may be left
    left = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if MARKER.encode() in environ.read_bytes():
                left.append(environ.parent.name)
        except OSError:
            pass
    assert not left, f"processes of a graded submission still running: {left}"


def test_fork_bomb_and_full_disk_are_stopped_by_limits(run):
    root, _, results, _ = run
    assert escaped(root, "fork-bomb").startswith("fork refused after")
    got = escaped(root, "fills-disk")
    assert got.startswith("OSError after") and int(got.split()[2]) <= grading_settings().disk_mb
    # The bomb's sleeping children keep its own user at the process limit, so its kernel cannot start
    # the thread the test helpers need: that submission, and only that one, loses its points.
    assert results["fork-bomb", NAME]["score"] == 0 and results["fork-bomb", NAME]["status"] == "graded"
    assert "can't start new thread" in outputs(root, "fork-bomb", "evalue")
    assert results["fills-disk", NAME]["score"] == results["fills-disk", NAME]["max_score"], results["fills-disk", NAME]["notes"]


def grading_settings():
    from tinytorch_course.grading.common import settings

    return settings()


def outputs(root, sid, field):
    """``field`` of every output of the plain (ungraded) code cells of an autograded notebook."""
    nb = nbformat.read(root / "autograded" / sid / NAME / f"{NAME}.ipynb", as_version=4)
    return " ".join(str(out.get(field, "")) for cell in nb.cells if cell.cell_type == "code" and not meta(cell)
                    for out in cell.outputs)


def test_gradebook_is_consistent_and_regrading_is_idempotent(run):
    root, table, results, _ = run
    again = grading.grade(root, students=["os-exit", "invalid-json", "honest"], workers=2,
                          cell_timeout=CELL_TIMEOUT, progress=False)
    for result in again:
        assert result["score"] == results[result["student"], result["assignment"]]["score"]
    with Gradebook(grading.gradebook_url(root)) as gb:
        submissions = [(s.student.id, s.assignment.name, s.score) for a in gb.assignments for s in a.submissions]
        assert len(submissions) == len(set((s, a) for s, a, _ in submissions)) == len(results)
        for student, assignment, score in submissions:
            assert score == results[student, assignment]["score"]
