"""Feedback: one HTML page per autograded submission -> feedback/STUDENT/NN_name/NN_name.html.

nbgrader's feedback is the autograded notebook, hidden tests included (they are part of the graded
cells). ``HideHiddenTests`` (in nbgrader_config.py's ``GenerateFeedback.preprocessors``) takes them
out first: a graded cell keeps its visible tests, its points and whether it passed; its hidden
tests become one comment line, and an error raised by a hidden test (or from a line the traceback
does not name) is shown as "a hidden test failed", without message or traceback.
"""
import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from tinytorch_course import ROOT
from tinytorch_course.grading import tracebacks
from tinytorch_course.grading.common import GradingError, api, gradebook_url, modules

HIDDEN_NOTE = "# (hidden tests: they count in this cell's score; their code is not shown)\n"


class HideHiddenTests(Preprocessor):
    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        hidden = tracebacks.hidden_lines(cell.source)
        if not hidden:
            return cell, resources
        outputs = []
        for out in cell.outputs:
            if out.output_type == "error":
                number = tracebacks.failing_line(cell, out)
                if number is None or number in hidden:
                    out = NotebookNode(output_type="error", ename="HiddenTestFailed",
                                       evalue="a hidden test of this cell failed", traceback=["a hidden test of this cell failed"])
                else:
                    line = cell.source.split("\n")[number - 1].strip()
                    out = NotebookNode(output_type="error", ename=out.ename, evalue=out.evalue,
                                       traceback=[f"line {number}: {line}", f"{out.ename}: {out.evalue}"])
            outputs.append(out)
        cell.outputs = outputs
        cell.source = tracebacks.HIDDEN_REGION.sub(lambda m: re.match(r"[ \t]*", m.group()).group() + HIDDEN_NOTE,
                                                   cell.source)
        return cell, resources


def feedback(root=ROOT, names=None):
    """Have nbgrader write HTML feedback for every autograded submission; return the pages."""
    nbgrader = api(root, gradebook_url(root))
    for name in names or modules():
        if not any(Path(root, "autograded").glob(f"*/{name}")):
            continue
        result = nbgrader.generate_feedback(name, force=True)
        if not result["success"]:
            raise GradingError(f"nbgrader could not generate feedback for {name}:\n{result.get('error')}")
    return sorted(Path(root, "feedback").glob("*/*/*.html"))
