"""Record: merge one graded submission into the course gradebook and autograded/ (idempotent)."""
import os
import shutil
import stat
import warnings
from pathlib import Path

from tinytorch_course import ROOT
from tinytorch_course.grading.common import gradebook_url


def copy_regular(src, dest):
    """Copy the regular files and folders of ``src`` into ``dest``; links, devices, pipes and sockets
    are left out (never followed)."""
    dest.mkdir(parents=True)
    for entry in os.scandir(src):
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            copy_regular(entry.path, dest / entry.name)
        elif stat.S_ISREG(mode):
            shutil.copyfile(entry.path, dest / entry.name, follow_symlinks=False)


def record(result, root=ROOT):
    """Merge one worker's result into ``root``'s gradebook and autograded/; return it with its score."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    student, assignment = result["student"], result["assignment"]
    dest = Path(root, "autograded", student, assignment)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    if result.get("autograded"):
        copy_regular(result["autograded"], dest)
    with Gradebook(gradebook_url(root)) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader
        gb.update_or_create_student(student)
        kwargs = {"timestamp": parse_utc(result["timestamp"])} if result.get("timestamp") else {}
        submission = gb.update_or_create_submission(assignment, student, **kwargs)
        total = maximum = 0.0
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                cell = result["cells"].get(grade.name, {})
                grade.needs_manual_grade = cell.get("manual", False)
                grade.auto_score = None if grade.needs_manual_grade else cell.get("score", 0.0)
                total += grade.auto_score or 0.0
                maximum += grade.max_score
        gb.db.commit()
    result["score"], result["max_score"] = total, maximum
    return result
