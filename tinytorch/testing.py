"""Checks whose failure says why: what was computed, what was expected, what came out.

The module notebooks' tests and the package tests use them, so a failing check reads like
``mul: gradient of b for a (2, 3) * b (3,): expected shape (3,), got shape (2, 3)``.
"""
import numpy as np


def _array(value):
    """A numpy array from a tinytorch Tensor, a torch tensor, an array or a number."""
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return np.asarray(getattr(value, "data", value))


def _show(array):
    return np.array2string(array, precision=5, threshold=20, edgeitems=2, separator=", ")


def assert_close(actual, expected, what, rtol=1e-5, atol=1e-6, dtype=None):
    """Assert ``actual`` has ``expected``'s shape and values (and ``dtype`` when given).

    The error message starts with ``what`` and names the expected and the received shape, dtype
    or values, with the index of the largest difference.
    """
    if actual is None:
        raise AssertionError(f"{what}: expected a value of shape {np.shape(_array(expected))}, got None")
    got, want = _array(actual), _array(expected)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: expected shape {want.shape}, got shape {got.shape}")
    if dtype is not None and got.dtype != np.dtype(dtype):
        raise AssertionError(f"{what}: expected dtype {np.dtype(dtype)}, got dtype {got.dtype}")
    if got.dtype.kind not in "biufc" or want.dtype.kind not in "biufc":
        raise AssertionError(f"{what}: expected numbers, got dtype {got.dtype}")
    close = np.isclose(got, want, rtol=rtol, atol=atol)
    if close.all():
        return
    error = np.where(close, 0.0, np.abs(got.astype(np.float64) - want))
    error[np.isnan(error)] = np.inf
    worst = np.unravel_index(np.argmax(error), got.shape)
    raise AssertionError(
        f"{what}: {int((~close).sum())} of {close.size} values differ; at index {tuple(int(i) for i in worst)} "
        f"expected {want[worst].item():.6g}, got {got[worst].item():.6g}\n"
        f"  expected: {_show(want)}\n  got:      {_show(got)}"
    )


def assert_raises(error, call, what, *needles):
    """Assert ``call()`` raises ``error`` whose message contains every string in ``needles``."""
    try:
        call()
    except error as err:
        missing = [n for n in needles if n not in str(err)]
        if missing:
            raise AssertionError(f"{what}: the {error.__name__} should mention {missing}, its message is: {err}") from None
        return
    raise AssertionError(f"{what}: expected {error.__name__}, nothing was raised")


def local_gradients(out, grad=None, what="the operation"):
    """The gradients the ONE operation that produced ``out`` hands its inputs for the output gradient
    ``grad`` (ones by default): its backward function, called directly, with no autograd engine.

    Returns a tuple with one array (or None) per input of that operation, in the order of
    ``out._inputs``.
    """
    if getattr(out, "_backward", None) is None:
        raise AssertionError(f"{what}: expected a Tensor recorded by an operation on inputs that require a "
                             f"gradient, got {type(out).__name__} with no backward function")
    grad = np.ones_like(out.data) if grad is None else np.asarray(_array(grad), dtype=out.data.dtype)
    try:
        grads = tuple(out._backward(grad))
    except Exception as err:  # e.g. a backward that returns an array of the wrong shape
        raise AssertionError(f"{what}: the backward function raised {type(err).__name__}: {err}") from err
    if len(grads) < len(out._inputs):
        raise AssertionError(f"{what}: backward should return one gradient per input ({len(out._inputs)}), "
                             f"it returned {len(grads)}")
    return tuple(None if g is None else _array(g) for g in grads[:len(out._inputs)])


def _local(out, leaves, probe, what):
    """The local gradient of each of ``leaves`` in the one operation that produced ``out``."""
    inputs = getattr(out, "_inputs", ())
    missing = [k for k, leaf in enumerate(leaves) if not any(leaf is t for t in inputs)]
    if missing:
        raise AssertionError(
            f"{what}: input {missing[0]} is not an input of the operation that produced the output: a local check "
            f"needs ONE recorded operation applied to the inputs; check an expression of several operations "
            f"with assert_gradients (it runs the autograd engine)")
    grads = local_gradients(out, probe, what)
    result = []
    for k, leaf in enumerate(leaves):
        g = grads[next(i for i, t in enumerate(inputs) if t is leaf)]
        g = np.zeros_like(leaf.data) if g is None else g
        if g.shape != leaf.shape:
            raise AssertionError(f"{what}: gradient of input {k}: expected shape {leaf.shape} (the input's), "
                                 f"got shape {g.shape} (reducing a broadcast gradient is the engine's work: "
                                 f"check broadcasting with assert_gradients)")
        result.append(g)
    return result


def _central_differences(value, array, eps):
    """The derivative of ``value()`` with respect to each entry of ``array`` by central differences
    (``array`` is changed in place, one entry at a time, and restored)."""
    numeric = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        above = value()
        array[index] = original - eps
        numeric[index] = (above - value()) / (2 * eps)
        array[index] = original
    return numeric


def assert_local_gradients(op, *inputs, what, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Assert the backward function of the ONE operation ``op(*inputs)`` returns the gradients
    central finite differences give, without the autograd engine.

    ``inputs`` are tensors, used as float64 copies of their own class; the gradients are those of
    the projection ``(op(*x) * probe).sum()`` for one random ``probe``. Each local gradient must have
    its input's shape: check broadcasting, which the engine reduces, with ``assert_gradients``.
    """
    leaves = [type(t)(t.data, dtype=np.float64, requires_grad=True) for t in inputs]
    what = f"{what} (inputs of shape {', '.join(str(leaf.shape) for leaf in leaves)})"
    out = op(*leaves)
    probe = np.random.default_rng(seed).standard_normal(out.shape)
    analytic = _local(out, leaves, probe, what)
    for k, (leaf, grad) in enumerate(zip(leaves, analytic)):
        numeric = _central_differences(lambda: float((op(*leaves).data * probe).sum()), leaf.data, eps)
        bad = ~np.isclose(grad, numeric, rtol=rtol, atol=atol)
        if bad.any():
            worst = np.unravel_index(np.argmax(np.where(bad, np.abs(grad - numeric), -1)), leaf.shape)
            raise AssertionError(
                f"{what}: gradient of input {k}: {int(bad.sum())} of {bad.size} entries differ from finite "
                f"differences; at index {tuple(int(i) for i in worst)} expected {numeric[worst]:.6g}, "
                f"got {grad[worst]:.6g}")


def assert_same_as(oracle, fn, *arrays, what, tensor=None, oracle_fn=None, rtol=1e-10, atol=1e-12, seed=0, local=False):
    """Assert ``fn`` gives the values and gradients the ``oracle`` framework (PyTorch, passed in) gives.

    Both run on float64 copies of ``arrays``; the gradients are those of ``fn(*x)`` seeded with one
    random output gradient. ``tensor`` is the Tensor class under test (tinytorch's by default);
    ``oracle_fn`` stands in for ``fn`` on the oracle's tensors where the two APIs differ. With
    ``local``, ``fn`` is ONE operation whose backward function gives the gradients (no engine).
    """
    if tensor is None:
        from tinytorch.tensor import Tensor as tensor
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    what = f"{what} (inputs of shape {', '.join(str(a.shape) for a in arrays)})"
    ours = [tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    theirs = [oracle.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(*ours), (oracle_fn or fn)(*theirs)
    assert_close(out, ref, f"{what}: value", rtol=rtol, atol=atol)
    probe = np.random.default_rng(seed).standard_normal(tuple(ref.shape))
    if local:
        grads = _local(out, ours, probe, what)
    else:
        out.backward(probe)
        grads = [mine.grad for mine in ours]
    ref.backward(oracle.tensor(probe))
    for k, (mine, reference) in enumerate(zip(grads, theirs)):
        expected = np.zeros_like(arrays[k]) if reference.grad is None else reference.grad
        actual = np.zeros_like(arrays[k]) if mine is None else mine
        assert_close(actual, expected, f"{what}: gradient of input {k}", rtol=rtol, atol=atol)


def assert_gradients(fn, *inputs, what, **tolerances):
    """Assert the gradients autograd computes for ``fn(*inputs)`` match finite differences.

    ``inputs`` are float64 tensors; see ``tinytorch.autograd.gradcheck``.
    """
    from tinytorch.autograd import gradcheck

    shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
    try:
        gradcheck(fn, *inputs, **tolerances)
    except AssertionError as err:
        raise AssertionError(f"{what} (inputs of shape {shapes}): {err}") from None
    except Exception as err:  # e.g. a backward that returns an array of the wrong shape
        raise AssertionError(f"{what} (inputs of shape {shapes}): the gradient computation raised "
                             f"{type(err).__name__}: {err}") from err


def assert_same_steps(oracle, optimizer, shapes, what, steps=10, seed=0, dtype=np.float64, rtol=1e-10, atol=1e-12, **options):
    """Assert ``optimizer(params, **options)`` moves parameters of ``shapes`` as the oracle's optimizer
    of the same name (``oracle.optim.SGD`` for ``SGD``) does, over ``steps`` steps with the same
    random gradients, keeping ``dtype``. Every fourth step a parameter has no gradient and must be
    left alone; ``step`` must not change the gradients.
    """
    from tinytorch.tensor import Tensor

    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    ours = [Tensor(a, dtype=dtype, requires_grad=True) for a in start]
    theirs = [oracle.tensor(a, requires_grad=True) for a in start]
    mine, reference = optimizer(ours, **options), getattr(oracle.optim, optimizer.__name__)(theirs, **options)
    settings = ", ".join(f"{k}={v!r}" for k, v in options.items())
    what = f"{what}: {optimizer.__name__}({settings}) on parameters of shape {', '.join(map(str, shapes))}"
    for step in range(1, steps + 1):
        grads = [None if (step + k) % 4 == 0 else rng.standard_normal(a.shape).astype(dtype) for k, a in enumerate(start)]
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = (None, None) if g is None else (Tensor(g, dtype=dtype), oracle.tensor(g))
        mine.step()
        reference.step()
        for k, (p, q, g) in enumerate(zip(ours, theirs, grads)):
            assert_close(p, q, f"{what}: parameter {k} after step {step}", rtol=rtol, atol=atol, dtype=dtype)
            if g is not None:
                assert_close(p.grad, g, f"{what}: step {step} must not change the gradient of parameter {k}", rtol=0, atol=0)
