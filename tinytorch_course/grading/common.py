"""What every grading step shares: the course's modules, its gradebook, nbgrader's configuration
and API, the error a course command reports instead of a traceback, and the pool that runs
notebooks in parallel."""
import functools
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tinytorch_course import ROOT, SOURCE, module_notebooks

TEMP_PREFIX = "tinytorch-"  # temporary folders of the course tools


class GradingError(Exception):
    """A course command cannot go on (unknown module, nbgrader failure, no sandbox)."""


def reported(command):
    """A CLI command that prints a GradingError as a message (exit status 2), not a traceback."""
    @functools.wraps(command)
    def run(args):
        try:
            return command(args)
        except GradingError as err:
            print(f"tinytorch: {err}", file=sys.stderr)
            return 2
    return run


def in_parallel(run, items, workers=None, progress=True, label=lambda item, result: str(item), **bar_options):
    """Yield ``(item, run(item))`` for each of ``items`` as it finishes, ``workers`` at a time
    (default: the number of cores; never more than there are items), under a tqdm progress bar
    (``bar_options``; hidden unless ``progress``) that advances, showing ``label(item, result)``,
    once the caller is done with the result."""
    from tqdm import tqdm

    workers = max(1, min(workers or os.cpu_count() or 1, len(items) or 1))
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(items), disable=not progress, **bar_options) as bar:
        futures = {pool.submit(run, item): item for item in items}
        for future in as_completed(futures):
            item, result = futures[future], future.result()
            yield item, result
            bar.set_postfix_str(label(item, result))
            bar.update()


def modules(folder=SOURCE):
    """Assignment names of every module in ``folder`` (source/ by default), in course order."""
    return [nb.parent.name for nb in module_notebooks(folder)]


def find_module(key, folder=SOURCE):
    """``01``, ``1``, ``01_tensor`` or ``tensor`` -> ``01_tensor``."""
    key = str(key)
    for name in modules(folder):
        number, _, word = name.partition("_")
        if key in (name, word) or (key.isdigit() and int(key) == int(number)):
            return name
    raise GradingError(f"no module {key!r} in {folder.name}/; modules: {', '.join(modules(folder)) or 'none'}")


def gradebook_url(root=ROOT):
    """The gradebook of the course whose submitted/, autograded/ and feedback/ are under ``root``."""
    return f"sqlite:///{Path(root, 'gradebook.db')}"


def load_config(root, db_url=None):
    """The course's nbgrader configuration, with the course folder (and gradebook) moved."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url or gradebook_url(root)
    # nbgrader's exchange is unused (students get the student edition); pointing it at a
    # writable folder keeps nbgrader from reporting it missing.
    config.Exchange.root = tempfile.gettempdir()
    return config


def settings():
    """The grading limits of nbgrader_config.py (``SandboxedExecute``)."""
    return load_config(ROOT).SandboxedExecute


@functools.cache
def _alembic_head():
    """The gradebook schema version, read in-process (nbgrader starts an `alembic` process for it)."""
    import nbgrader.api
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.api.__file__).parent / "alembic")).get_current_head()


def api(root, db_url=None, config=None):
    """nbgrader's API on the course folder ``root``, configured by nbgrader_config.py."""
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    nbgrader.api.get_alembic_version = _alembic_head
    config = config or load_config(root, db_url)
    return NbGraderAPI(CourseDirectory(config=config), config=config)
