"""Collect: submissions from folders or zip archives -> submitted/STUDENT/NN_name/.

A notebook is recognised as ``STUDENT/NN_name.ipynb``, ``STUDENT/NN_name/anything.ipynb`` or
``STUDENT_NN_name.ipynb`` (a learning platform's download). Student ids are ``[A-Za-z0-9._-]+``
other than ``.`` and ``..``; links, absolute paths and ``..`` in archive names, and a second
notebook for the same student and module are reported and skipped, never followed or overwritten.
A ``timestamp.txt`` in the submission's own folder (``STUDENT/NN_name/``) is kept.
"""
import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from tinytorch_course import ROOT
from tinytorch_course.grading.common import modules

STUDENT_ID = re.compile(r"[A-Za-z0-9._-]+")


def valid_student(student):
    return bool(STUDENT_ID.fullmatch(student)) and student not in (".", "..")


def notebook_owner(relative, names):
    """(student, module) for a path like ``alice/01_tensor.ipynb`` or ``alice_01_tensor.ipynb``."""
    parts, stem = relative.parts, relative.stem
    for name in names:
        if len(parts) >= 2 and (stem == name or parts[-2] == name) and parts[0] != name:
            return parts[0], name
        if stem.endswith("_" + name) and len(stem) > len(name) + 1:
            return stem[: -len(name) - 1], name
    return None


def _entries(path):
    """(relative path, read(), timestamp text or None, problem or None) for every notebook in a
    folder or zip archive ``path``."""
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for info in archive.infolist():
                relative = PurePosixPath(info.filename)
                if info.is_dir() or relative.suffix != ".ipynb":
                    continue
                unsafe = relative.is_absolute() or ".." in relative.parts or "\\" in info.filename
                stamp = str(relative.parent / "timestamp.txt")
                timestamp = archive.read(stamp).decode(errors="replace") if stamp in names else None
                yield relative, (lambda info=info: archive.read(info)), timestamp, \
                    "a path outside the archive" if unsafe else None
        return
    for nb in sorted(path.rglob("*.ipynb")):
        relative = nb.relative_to(path)
        stamp = nb.parent / "timestamp.txt"
        linked = any(p.is_symlink() for p in [nb, *nb.parents][: len(relative.parts)])
        timestamp = stamp.read_text(errors="replace") if stamp.is_file() and not stamp.is_symlink() else None
        yield relative, nb.read_bytes, timestamp, "a link" if linked or not nb.is_file() else None


def collect(paths, root=ROOT):
    """Copy notebooks found in folders or zip archives into ``root/submitted/STUDENT/NN_name/``.

    Returns (collected, skipped): the notebooks written, and (source, reason) of those that were not.
    """
    names, collected, skipped, seen = modules(), [], [], {}
    for path in map(Path, paths):
        for relative, read, timestamp, problem in _entries(path):
            source = f"{path}/{relative}" if path.suffix != ".zip" else f"{path}:{relative}"
            if ".ipynb_checkpoints" in relative.parts:
                continue
            owner = notebook_owner(relative, names)
            if problem or owner is None or not valid_student(owner[0]):
                reason = problem or ("not STUDENT/NN_name.ipynb or STUDENT_NN_name.ipynb" if owner is None
                                     else f"invalid student id {owner[0]!r} (letters, digits, '.', '_', '-')")
                skipped.append((source, reason))
                continue
            if owner in seen:
                skipped.append((source, f"a second submission of {owner[0]}'s {owner[1]} (kept {seen[owner]})"))
                continue
            seen[owner] = source
            student, name = owner
            dest = Path(root, "submitted", student, name)
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            target = dest / f"{name}.ipynb" if relative.stem.endswith(name) else dest / relative.name
            target.write_bytes(read())
            if timestamp is not None and name in relative.parts[:-1]:  # STUDENT/NN_name/timestamp.txt
                (dest / "timestamp.txt").write_text(timestamp)
            collected.append(target)
    return collected, skipped
