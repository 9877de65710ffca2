"""Export grades: every student's score on every module -> a CSV file (nbgrader's exporter)."""
from pathlib import Path

from tinytorch_course import ROOT
from tinytorch_course.grading.common import gradebook_url


def export_grades(to, root=ROOT):
    """Write one row per (student, module) of ``root``'s gradebook to the CSV file ``to``."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    plugin = CsvExportPlugin()
    plugin.to = str(to)
    with Gradebook(gradebook_url(root)) as gb:
        plugin.export(gb)
    return Path(to)
