"""A typical bug planted in the solution of Module 01 or 05 fails a visible graded check whose
message names the operation and says what was expected and what came out."""
import json
import re

import pytest

from tinytorch_course import SOURCE

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def visible_failures(module, bug=()):
    """Run the instructor notebook with the hidden tests removed and each ``(old, new)`` of ``bug``
    replaced; return the failure message of each failing graded cell, by grade_id."""
    notebook = json.loads(next(SOURCE.glob(f"{module}_*/{module}_*.ipynb")).read_text())
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    planted = sources
    for old, new in bug:
        changed = [s.replace(old, new) for s in planted]
        assert changed != planted, f"the code to plant a bug in, {old!r}, is not in module {module}"
        planted = changed
    graded = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") if c.get("metadata", {}).get("nbgrader", {}).get("grade") else None for c in cells]
    last = max(i for i, g in enumerate(graded) if g)
    namespace, failures = {"__name__": "__main__"}, {}
    for source, grade_id in zip(planted[: last + 1], graded):
        try:
            exec(compile(HIDDEN.sub("", source), f"<{module} {grade_id or 'cell'}>", "exec"), namespace)
        except Exception as err:  # like nbgrader, go on after a failing cell
            failures[grade_id or "ungraded"] = f"{type(err).__name__}: {err}"
    return failures


BUGS = {  # name: module, replacements, the graded cell that fails, words its message must contain
    "sub: wrong sign": ("01", [("return g, -g", "return g, g")],
                        "test-grad-arithmetic", ["sub", "gradient of input 1", "finite differences"]),
    "mul: gradients swapped": ("01", [("return g * b, g * a", "return g * a, g * b")],
                               "test-grad-arithmetic", ["mul", "gradient of input 0"]),
    "sum: wrong axis": ("01", [("_unreduce(g, axis, keepdims), shape)", "_unreduce(g, -1, keepdims), shape)")],
                        "test-grad-reductions", ["sum(axis=1)", "(2, 3, 4)"]),
    "permute: not inverted": ("01", [("np.transpose(g, np.argsort(dims))", "np.transpose(g, dims)")],
                              "test-grad-shape-indexing", ["permute(2, 0, 1)"]),
    "matmul: batch transposed": ("01", [("grad_b = np.swapaxes(a2, -1, -2) @ g2", "grad_b = a2.T @ g2")],
                                 "test-grad-matmul", ["matmul (2, 2, 3) @ (3, 4)"]),
    "backward: no unbroadcast": ("05", [("pg = unbroadcast(pg, parent.data.shape)", "pass")],
                                 "test-backward", ["gradient of bias", "expected shape (2,), got shape (5, 2)"]),
    "no_grad: not restored": ("05", [("_grad_enabled = self._saved.pop()", "_grad_enabled = True")],
                              "test-no-grad", ["no_grad", "inner"]),
    "no_grad: one saved state": ("05", [("self._saved.append(_grad_enabled)", "self._previous = _grad_enabled"),
                                        ("_grad_enabled = self._saved.pop()", "_grad_enabled = self._previous")],
                                 "test-no-grad", ["recursive"]),
}


@pytest.mark.parametrize("name", BUGS)
def test_a_planted_bug_fails_with_a_message_naming_it(name):
    module, bug, cell, words = BUGS[name]
    failures = visible_failures(module, bug)
    assert cell in failures, f"planting {bug} in module {module} should fail {cell}; failures: {failures}"
    missing = [w for w in words if w not in failures[cell]]
    assert not missing, f"the message of {cell} should mention {missing}: {failures[cell]}"


@pytest.mark.parametrize("module", ["01", "05"])
def test_the_solution_passes_every_visible_check(module):
    assert visible_failures(module) == {}
