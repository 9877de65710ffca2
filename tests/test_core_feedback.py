"""A typical bug planted in the solution of Module 01 or 05 fails a visible graded check whose
message names the operation and says what was expected and what came out."""
import pytest

import submissions


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
                                 "test-grad-matmul", ["matmul (2, 2, 3) @ (2, 3, 4)"]),
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
    submissions.assert_bug_named(*BUGS[name])


@pytest.mark.parametrize("module", ["01", "05"])
def test_the_solution_passes_every_visible_check(module):
    assert submissions.visible_failures(module) == {}
