"""Release: nbgrader generates each module's student notebook, source/ -> release/."""
import shutil
import tempfile
from pathlib import Path

from tinytorch_course import RELEASE, SOURCE
from tinytorch_course.grading.common import TEMP_PREFIX, GradingError, api, gradebook_url, modules


def generate(assignment, dest, db_url, source=SOURCE):
    """Have nbgrader generate the student version of one module into ``dest`` (replaced)."""
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "release-") as tmp:
        shutil.copytree(Path(source, assignment), Path(tmp, "source", assignment),
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        result = api(tmp, db_url).generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise GradingError(f"nbgrader could not generate {assignment}:\n{result.get('error') or result.get('log')}")
        dest = Path(dest)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(tmp, "release", assignment), dest)
    return dest


def release(release_dir=RELEASE, db_url=None, names=None):
    """Generate every module's student version into ``release_dir``; remove releases of gone modules."""
    db_url = db_url or gradebook_url()
    for name in names or modules():
        yield generate(name, Path(release_dir, name), db_url)
    for old in Path(release_dir).glob("[0-9][0-9]_*"):
        if old.is_dir() and old.name not in modules():
            shutil.rmtree(old)


def ensure_assignments(names, db_url):
    """Make sure the gradebook ``db_url`` knows each module's graded cells (from source/)."""
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "release-") as tmp:
        for name in names:
            generate(name, Path(tmp, name), db_url)
