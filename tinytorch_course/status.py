"""Where a student stands: ``tinytorch status`` and ``tinytorch milestone NN``.

A student's work is the module notebooks ``NN_name/NN_name.ipynb`` of a folder: ``release/``,
edited in place, unless ``--dir`` names another. ``status`` reports every module as not started
(no solution cell changed since the release, by the checksum nbgrader stores in it: nothing
runs), in progress (visible points earned of the total) or complete (all visible points), by
running the module's visible tests as ``tinytorch check`` does. Each notebook's result is cached
in ``_build/status.json`` under a hash of the notebook, its release version and the package, so a
second run executes nothing. A milestone is unlocked when every module it needs
(``tinytorch_course/course.py``) is complete.

``milestone NN`` runs ``book/milestones/NN_name.ipynb``, the notebook the book shows, on the
``tinytorch`` package the student exported, in a kernel whose working folder is the milestone
folder, and saves the executed notebook in ``milestones/`` of the student's folder.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tinytorch_course import RELEASE, ROOT, book, export, module_notebooks
from tinytorch_course.course import MILESTONES, MODULES, PHASES

CACHE = ROOT / "_build" / "status.json"
COURSE_ORDER = [n for phase in PHASES for n in phase.modules]


def visible_check(name, notebook):
    """``tinytorch check``: the one place that knows where it lives."""
    from tinytorch_course.grading import check

    return check(name, notebook)


def _read(path):
    import nbformat  # only on a cache miss: importing it takes longer than a cached status

    return nbformat.read(path, as_version=4)


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _number(x):
    return int(x) if float(x).is_integer() else float(x)


def _points(nb):
    return _number(sum(_nbgrader(cell).get("points", 0) for cell in nb.cells if _nbgrader(cell).get("grade")))


def _started(nb):
    """Whether a solution cell differs from its release version (nbgrader's checksum of it)."""
    from nbgrader.utils import compute_checksum

    return any(compute_checksum(cell) != _nbgrader(cell).get("checksum") for cell in nb.cells
               if _nbgrader(cell).get("solution"))


def _released():
    return {int(p.parent.name[:2]): p for p in module_notebooks(RELEASE)}


def _key(name, notebook, release_notebook, package_hash):
    digest = hashlib.sha256(f"{name}\0{package_hash}\0".encode())
    for path in (notebook, release_notebook):
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _state(points, total):
    return "complete" if total and points == total else "in progress"


def _load(cache):
    try:
        return json.loads(Path(cache).read_text())
    except (OSError, ValueError):
        return {}


def status(folder=RELEASE, numbers=None, cache=None, workers=None, progress=True):
    """``{"modules": {"01": {"state", "points", "total"}, ...}, "milestones": {"01": {"unlocked",
    "missing"}, ...}}`` for the student's notebooks in ``folder``; only the modules ``numbers``
    (default: every released one) are checked."""
    from tinytorch_course.grading.common import in_parallel

    folder, cache = Path(folder), Path(cache or CACHE)
    released = _released()
    numbers = [n for n in COURSE_ORDER if n in released and (numbers is None or n in numbers)]
    cached, package_hash, changed = _load(cache), book.package_hash(), False
    modules, pending = {}, {}
    for n in numbers:
        name = released[n].parent.name
        notebook = (folder / name / f"{name}.ipynb").resolve()
        if not notebook.exists():
            modules[f"{n:02d}"] = {"state": "not started", "points": 0,
                                   "total": _points(_read(released[n]))}
            continue
        key = _key(name, notebook, released[n], package_hash)
        if cached.get(str(notebook), {}).get("key") == key:
            modules[f"{n:02d}"] = cached[str(notebook)]["result"]
            continue
        nb = _read(notebook)
        if _started(nb):
            pending[n] = (name, notebook, key)
        else:
            modules[f"{n:02d}"] = {"state": "not started", "points": 0, "total": _points(nb)}
            cached[str(notebook)], changed = {"key": key, "result": modules[f"{n:02d}"]}, True

    if pending:
        checked = in_parallel(lambda n: visible_check(*pending[n][:2]), list(pending), workers, progress,
                              label=lambda n, _: pending[n][0], desc="visible tests", unit="module")
        for n, result in checked:
            name, notebook, key = pending[n]
            points = _number(sum(cell["score"] for cell in result["cells"].values()))
            total = _number(sum(cell["max"] for cell in result["cells"].values()))
            modules[f"{n:02d}"] = {"state": _state(points, total), "points": points, "total": total}
            if result["status"] == "graded":  # a run that timed out or crashed is tried again next time
                cached[str(notebook)] = {"key": key, "result": modules[f"{n:02d}"]}
    if pending or changed:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({path: entry for path, entry in cached.items() if Path(path).exists()}, indent=1))
    modules = {key: modules[key] for key in sorted(modules, key=lambda k: COURSE_ORDER.index(int(k)))}
    milestones = {}
    for n, milestone in MILESTONES.items():
        missing = [f"{m:02d}" for m in milestone.requires if modules.get(f"{m:02d}", {}).get("state") != "complete"]
        milestones[f"{n:02d}"] = {"unlocked": not missing, "missing": missing}
    return {"modules": modules, "milestones": milestones}


def executed_milestone(number, folder=RELEASE):
    """Where ``tinytorch milestone`` saves the executed milestone ``number`` for ``folder``."""
    return Path(folder) / "milestones" / book.milestones()[number].name


def next_step(progress, folder=RELEASE):
    """One sentence: the milestone to run, or the module to work on."""
    for key, milestone in progress["milestones"].items():
        n = int(key)
        if milestone["unlocked"] and n in book.milestones() and not executed_milestone(n, folder).exists():
            return f"run Milestone {key}: {MILESTONES[n].name}: `tinytorch milestone {key}`"
    for key, module in progress["modules"].items():
        if module["state"] == "in progress":
            return f"finish {key} {MODULES[int(key)]} ({module['points']:g}/{module['total']:g} visible points): " \
                   f"`tinytorch check {key}` says what fails"
        if module["state"] == "not started":
            return f"start {key} {MODULES[int(key)]}"
    return "every released module is complete"


def render(progress, folder=RELEASE):
    """The text of ``tinytorch status``."""
    lines = []
    for phase in PHASES:
        lines.append(phase.caption)
        for n in phase.modules:
            module = progress["modules"].get(f"{n:02d}")
            shown = "not released yet" if module is None else \
                f"{module['state']:<12} {module['points']:>4g}/{module['total']:g} points"
            lines.append(f"  {n:02d} {MODULES[n]:<34} {shown}")
    lines += ["", "Milestones"]
    for key, milestone in progress["milestones"].items():
        n = int(key)
        shown = "unlocked" if milestone["unlocked"] else "locked: finish " + ", ".join(
            f"{m} {MODULES[int(m)]}" for m in milestone["missing"])
        lines.append(f"  {key} {MILESTONES[n].name:<34} {shown}")
    lines += ["", f"Next: {next_step(progress, folder)}"]
    return "\n".join(lines)


class MilestoneLocked(Exception):
    """A milestone needs modules that are not complete yet."""


def _unexported(numbers, folder):
    """The student's started notebooks among modules ``numbers`` whose export is not in the package."""
    stale = []
    for n, release_path in _released().items():
        notebook = Path(folder) / release_path.parent.name / release_path.name
        if n in numbers and notebook.exists() and _started(_read(notebook)):
            if any(not target.exists() or target.read_text() != text for target, text in export.render_all(notebook)):
                stale.append(notebook)
    return stale


def run_milestone(number, folder=RELEASE, force=False, cache=None, progress=True):
    """Execute milestone ``number`` on the package; return ``(executed notebook path, result
    line or None, error or None)``. Refuses (MilestoneLocked) unless its modules are complete or
    ``force`` is given."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm import tqdm

    found = book.milestones()
    if number not in found:
        raise MilestoneLocked(f"no milestone {number:02d}; milestones: {', '.join(f'{n:02d}' for n in found)}")
    milestone = MILESTONES[number]
    if not force:
        missing = status(folder, milestone.requires, cache=cache, progress=progress)["milestones"][f"{number:02d}"]["missing"]
        if missing:
            names = ", ".join(f"{m} {MODULES[int(m)]}" for m in missing)
            raise MilestoneLocked(f"Milestone {number:02d}: {milestone.name} is locked: finish {names} first "
                                  f"(`tinytorch status` shows your progress; instructors: --force)")
    for notebook in _unexported(milestone.requires, folder):
        print(f"note: the package does not hold your {notebook.name}: `tinytorch export {notebook}` to use it",
              file=sys.stderr)
    source = found[number]
    nb = nbformat.read(source, as_version=4)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    bar = tqdm(total=sum(c.cell_type == "code" for c in nb.cells), desc=f"milestone {number:02d}", unit="cell",
               disable=not progress)

    class Client(NotebookClient):
        def process_message(self, msg, cell, cell_index):
            if msg["msg_type"] == "update_display_data":  # the notebook's own progress bar, redrawn
                bar.set_postfix_str(msg["content"]["data"].get("text/plain", "").split("|")[0].strip()[:40])
            return super().process_message(msg, cell, cell_index)

    client = Client(nb, timeout=config["execute"]["timeout"], kernel_name="python3",
                    resources={"metadata": {"path": str(source.parent)}}, on_cell_executed=lambda **_: bar.update())
    error = None
    try:
        client.execute(env=env, stderr=subprocess.DEVNULL)
    except CellExecutionError as failure:
        cell = next(c for c in nb.cells if any(o.output_type == "error" for o in c.get("outputs", [])))
        error = f"{failure.ename}: {failure.evalue}".strip().rstrip(":") + \
            f" in the cell starting `{cell.source.splitlines()[0]}`"
    except (CellTimeoutError, DeadKernelError) as failure:
        error = f"{type(failure).__name__}: {str(failure).strip().splitlines()[0]}"
    finally:
        bar.close()
    out = executed_milestone(number, folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    lines = [line for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
             if o.output_type == "stream" and o.name == "stdout"
             for line in o.text.splitlines() if line.startswith('{"milestone"')]
    return out, (lines[-1] if lines else None), error


def _cmd_status(args):
    progress = status(args.dir, workers=args.workers, progress=not args.json)
    print(json.dumps(progress, indent=2) if args.json else render(progress, args.dir))
    return 0


def _cmd_milestone(args):
    try:
        out, result, error = run_milestone(args.number, args.dir, force=args.force)
    except MilestoneLocked as locked:
        print(f"tinytorch milestone: {locked}", file=sys.stderr)
        return 2
    print(f"executed notebook: {out}")
    if error:
        print(f"tinytorch milestone: the notebook stopped with {error} (see the executed notebook)", file=sys.stderr)
        return 1
    print(result or "the milestone printed no result line")
    return 0 if result else 1


def _folder(path):
    if not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"{path} is not a folder")
    return Path(path)


def add_commands(commands):
    p = commands.add_parser(
        "status", help="your progress: every module and which milestones you have unlocked",
        description="Run the visible tests of every module you have started (cached until the notebook, "
        "its tests or the package change) and show each module as not started, in progress or complete, "
        "which milestones are unlocked, and what to do next.")
    p.add_argument("--dir", type=_folder, default=RELEASE, help="folder of your NN_name/NN_name.ipynb (default: release/)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--workers", type=int, default=None, help="modules checked in parallel (default: number of cores)")
    p.set_defaults(func=_cmd_status)

    p = commands.add_parser(
        "milestone", help="run a milestone on your own tinytorch",
        description="Run book/milestones/NN_name.ipynb on the package you exported, save the executed notebook "
        "in milestones/ of your folder and print its result line. A milestone runs once the modules it needs "
        "are complete.")
    p.add_argument("number", type=int, help="milestone number, e.g. 01")
    p.add_argument("--dir", type=_folder, default=RELEASE, help="folder of your NN_name/NN_name.ipynb (default: release/)")
    p.add_argument("--force", action="store_true", help="run even if modules it needs are not complete (instructors)")
    p.set_defaults(func=_cmd_milestone)
