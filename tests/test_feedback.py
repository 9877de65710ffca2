"""A typical bug planted in the solution of a module before Milestone 04 (01-06, 08, 09) fails a
visible graded check whose message names the operation or function and says what was expected
and what came out."""
import pytest

import submissions

SLOW = ("class OneAtATime", "plt.show()")  # demonstrations the checks do not need

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
    "sigmoid: wrong sign": ("02", [("return (g * out * (1 - out),)", "return (-g * out * (1 - out),)")],
                            "test-sigmoid-backward", ["sigmoid backward", "expected 0.5, got -0.5"]),
    "softmax: wrong axis": ("02", [("(g * out).sum(axis=dim, keepdims=True)", "(g * out).sum(axis=0, keepdims=True)")],
                            "test-softmax-backward", ["softmax backward", "with g = (1, 0)"]),
    "log_softmax: log-probabilities for probabilities": (
        "02", [("return (g - np.exp(out) * g.sum(axis=dim, keepdims=True),)", "return (g - out * g.sum(axis=dim, keepdims=True),)")],
        "test-log-softmax-backward", ["log_softmax backward", "expected 0.5"]),
    "linear: transposed weight gradient": ("03", [("return grad_input, g2.T @ x2, grad_bias", "return grad_input, x2.T @ g2, grad_bias")],
                                           "test-linear-backward", ["linear backward (x, weight, bias)", "(4, 3)", "(3, 4)"]),
    "linear: bias gradient summed over features": ("03", [("grad_bias = None if bias is None else g2.sum(axis=0)",
                                                            "grad_bias = None if bias is None else g2.sum(axis=1)")],
                                                   "test-linear-backward", ["linear backward (x, weight, bias)", "(3,)"]),
    "mse: gradient without the 2": ("04", [("d = 2 * spread(g) * diff", "d = spread(g) * diff")],
                                    "test-mse-backward", ["mse_loss backward", "expected 1, got 0.5"]),
    "cross_entropy: wrong sign": ("04", [("grad[rows, labels] -= 1", "grad[rows, labels] += 1")],
                                  "test-cross-entropy-backward", ["cross_entropy backward", "class 2"]),
    "sgd: wrong update sign": ("06", [("p.data -= lr * g", "p.data += lr * g")],
                               "test-sgd", ["SGD(lr=0.5).step()", "expected 0.5, got 1.5"]),
    "sgd: momentum ignored": ("06", [("g = g + momentum * buf if nesterov else buf", "g = g + momentum * buf if nesterov else g")],
                              "test-sgd", ["SGD(lr=1, momentum=0.9)", "after step 2", "expected -2.9, got -2"]),
    "adam: no bias correction": ("06", [("update *= lr * correction2 / (1 - beta1 ** t)", "update *= lr")],
                                 "test-adam", ["Adam(lr=0.01).step()", "expected 0.99"]),
    "adamw: decay grows the weights": ("06", [('p.data *= 1 - group["lr"] * group["weight_decay"]', 'p.data *= 1 + group["lr"] * group["weight_decay"]')],
                                       "test-adamw", ["AdamW(lr=0.1, weight_decay=0.1).step()", "expected 0.89"]),
    "tensor dataset: one sample short": ("08", [("return len(self.arrays[0])", "return len(self.arrays[0]) - 1")],
                                         "test-tensor-dataset", ["len(TensorDataset of 6 samples)", "expected 6, got 5"]),
    "collate: stacked on the wrong axis": ("08", [("batch = np.stack(arrays)", "batch = np.stack(arrays, axis=-1)")],
                                           "test-collate", ["default_collate", "expected shape (2, 3), got shape (3, 2)"]),
    "dataloader: last batch dropped": ("08", [("return n // self.batch_size if self.drop_last else -(-n // self.batch_size)",
                                               "return n // self.batch_size")],
                                       "test-dataloader", ["len(DataLoader(10 samples, batch_size=3))", "expected 4, got 3"]),
    "normalize: mean added": ("08", [("(batch - self.mean) / self.std", "(batch + self.mean) / self.std")],
                              "test-transforms", ["Normalize(mean=[1, 2], std=[2, 4])"]),
    "col2im: overlaps overwritten": ("09", [("+ sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw] += g",
                                             "+ sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw] = g")],
                                     "test-conv2d-backward", ["_fold (col2im)", "expected 5, got 2"]),
    "conv2d: weight gradient of the wrong windows": ("09", [("(g @ cols.T).reshape(w.shape)", "(g @ cols[::-1].T).reshape(w.shape)")],
                                                     "test-conv2d-backward", ["conv2d backward (stride 1, no padding)", "gradient"]),
    "max_pool2d: every tie wins": ("09", [("winner = (windows[..., u, v] == out) & ~taken", "winner = windows[..., u, v] == out")],
                                   "test-pooling-backward", ["max_pool2d backward of the window [[1, 4], [4, 2]]"]),
}


@pytest.mark.parametrize("name", BUGS)
def test_a_planted_bug_fails_with_a_message_naming_it(name):
    submissions.assert_bug_named(*BUGS[name], skip=SLOW)


@pytest.mark.parametrize("module", ["01", "02", "03", "04", "05", "06", "08", "09"])
def test_the_solution_passes_every_visible_check(module):
    assert submissions.visible_failures(module, skip=SLOW) == {}
