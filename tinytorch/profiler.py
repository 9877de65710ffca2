# Generated from source/15_profiling/15_profiling.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Profiler: the time, FLOPs and memory of every operation, backward step and module, like ``torch.profiler``."""
import contextlib
import functools
import json
import math
import operator
import os
import sys
import threading
import time
import types
import weakref

import numpy as np

from tinytorch import autograd
from tinytorch.nn.layers import Module
from tinytorch.tensor import Tensor


def flops_matmul(a_shape, b_shape):
    """FLOPs of ``a @ b`` (2 per multiply-add), batch dimensions broadcast, 1-D operands as in np.matmul."""
    a = (1, *a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b = (*b_shape, 1) if len(b_shape) == 1 else tuple(b_shape)
    batch = math.prod(np.broadcast_shapes(a[:-2], b[:-2]))
    return 2 * batch * a[-2] * a[-1] * b[-1]


def flops_linear(input_shape, weight_shape):
    """FLOPs of ``linear(input, weight)``: weight ``(out, in)``, input ``(..., in)``; the bias is not counted."""
    out_features, in_features = weight_shape
    return 2 * math.prod(input_shape[:-1]) * in_features * out_features


def flops_conv2d(input_shape, weight_shape, output_shape):
    """FLOPs of ``conv2d``: weight ``(O, C, kh, kw)`` giving an output ``(N, O, OH, OW)``; no bias."""
    _, channels, kh, kw = weight_shape
    return 2 * math.prod(output_shape) * channels * kh * kw


def flops_attention(query_shape, key_shape, value_shape):
    """FLOPs of ``softmax(q k^T * scale) v``: the two batched products, query ``(..., L, E)``,
    key ``(..., S, E)``, value ``(..., S, Ev)``."""
    *q_batch, length, embed = query_shape
    *k_batch, source, _ = key_shape
    batch = math.prod(np.broadcast_shapes(tuple(q_batch), tuple(k_batch), tuple(value_shape[:-2])))
    return 2 * batch * length * source * (embed + value_shape[-1])


_active = None  # the profile recording now, or None


class Event:
    """One recorded range: an operation (kind "op"), a backward step ("backward"), a module call
    ("module"), the autograd engine ("autograd"), an optimizer call ("optimizer") or a user range
    ("user"). Times are ``time.perf_counter_ns()``; ``scope`` is the module path it ran in."""

    __slots__ = ("name", "kind", "scope", "phase", "start", "end", "parent", "flops", "bytes", "backward")

    def __init__(self, name, kind, scope, phase, start, parent):
        self.name, self.kind, self.scope, self.phase = name, kind, scope, phase
        self.start, self.end, self.parent = start, None, parent
        self.flops = self.bytes = 0
        self.backward = None  # for an op: its backward step's (name, scope, flops), filled in as recorded

    @property
    def duration_us(self):
        return (self.end - self.start) / 1e3

    def __repr__(self):
        return f"Event({self.name!r}, {self.kind}, scope={self.scope!r}, {self.duration_us:.1f} us, flops={self.flops})"


def _root(array):
    """The array that owns the memory ``array`` views."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _shape(x):
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def _arg(args, kwargs, i, name):
    return args[i] if len(args) > i else kwargs[name]


def _needs_grad(x):
    return isinstance(x, Tensor) and x.requires_grad


def _matmul_rule(args, kwargs, out):
    f = flops_matmul(_shape(args[0]), _shape(args[1]))
    return f, 2 * f  # the backward computes both gradients


def _linear_rule(args, kwargs, out):
    x = _arg(args, kwargs, 0, "input")
    f = flops_linear(_shape(x), _shape(_arg(args, kwargs, 1, "weight")))
    return f, f * (1 + _needs_grad(x))  # the weight's gradient, and the input's if it needs one


def _conv2d_rule(args, kwargs, out):
    x = _arg(args, kwargs, 0, "input")
    f = flops_conv2d(_shape(x), _shape(_arg(args, kwargs, 1, "weight")), _shape(out))
    return f, f * (1 + _needs_grad(x))


def _attention_rule(args, kwargs, out):
    q, k, v = (_arg(args, kwargs, i, name) for i, name in enumerate(("query", "key", "value")))
    f = flops_attention(_shape(q), _shape(k), _shape(v))
    return f, 2 * f  # gradients of the scores and of q, k, v: four products


FLOP_RULES = {"matmul": _matmul_rule, "linear": _linear_rule, "conv2d": _conv2d_rule,
              "scaled_dot_product_attention": _attention_rule}
_NOT_OPS = {"item", "numpy", "numel", "tolist", "backward", "from_op"}


def _op_name(attr):
    """``__truediv__`` -> ``div``, ``__radd__`` -> ``add`` (the same op), ``__rsub__`` -> ``rsub``."""
    name = attr.strip("_")
    return {"truediv": "div", "rtruediv": "rdiv", "radd": "add", "rmul": "mul"}.get(name, name)


def _is_op(attr, value):
    """Tensor methods that are operations: public methods and the operator dunders (``__add__``, ``__getitem__``)."""
    if not isinstance(value, types.FunctionType):
        return False
    if attr.startswith("__") and attr.endswith("__"):
        name = attr[2:-2]
        return hasattr(operator, name) or (name.startswith("r") and hasattr(operator, name[1:]))
    return not attr.startswith("_") and attr not in _NOT_OPS


class profile:
    """Record every tensor operation, backward step and module call inside ``with profile() as prof:``.

    Afterwards: ``prof.events`` (in order of start), ``prof.key_averages().table(...)``,
    ``prof.export_chrome_trace(path)``, ``prof.total_flops``, ``prof.peak_memory`` (bytes) and
    ``prof.memory`` (``(time_ns, live bytes)`` after each allocation or release).
    """

    def __init__(self):
        self.events, self.memory = [], []
        self.live_memory = self.peak_memory = 0
        self.start = self.end = self.thread_id = None
        self._stack, self._modules = [], []  # open events; (module, path) of the open module calls
        self._patches, self._wrapped, self._live = [], [], {}
        self._flop_depth = 0

    # ----- entering and leaving: instrument, then restore exactly ---------------------------
    def __enter__(self):
        global _active
        if _active is not None:
            raise RuntimeError("profile: a profiler is already recording; profiles cannot be nested")
        self._thread, self.thread_id = threading.get_ident(), threading.get_native_id()
        try:
            self._instrument()
        except BaseException:
            self._restore()
            raise
        self.start = time.perf_counter_ns()
        _active = self
        return self

    def __exit__(self, *exc):
        global _active
        _active = None
        self.end = time.perf_counter_ns()
        self._restore()
        return False

    def _patch(self, owner, name, replacement):
        self._patches.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def _restore(self):
        while self._patches:
            owner, name, original = self._patches.pop()
            setattr(owner, name, original)
        for ref, original, wrapper in self._wrapped:  # graphs built while profiling, still alive
            node = ref()
            if node is not None and node._backward is wrapper:
                node._backward = original
        self._wrapped.clear()
        for _, finalizer in self._live.values():
            finalizer.detach()
        self._live.clear()

    def _instrument(self):
        for attr, value in list(Tensor.__dict__.items()):
            if _is_op(attr, value):
                name = _op_name(attr)
                self._patch(Tensor, attr, _recorded(value, name, "op", FLOP_RULES.get(name)))
        self._patch(Tensor, "from_op", staticmethod(_recorded_from_op(Tensor.from_op)))
        from tinytorch.nn import functional

        wrappers = {}
        for name in functional.__all__:
            fn = getattr(functional, name)
            if isinstance(fn, types.FunctionType):
                wrappers[id(fn)] = fn, _recorded(fn, name, "op", FLOP_RULES.get(name))
        for module_name, module in list(sys.modules.items()):  # every place the package refers to an op
            if module_name.split(".")[0] == "tinytorch" and module is not None:
                for attr, value in list(vars(module).items()):
                    if id(value) in wrappers and wrappers[id(value)][0] is value:
                        self._patch(module, attr, wrappers[id(value)][1])
        self._patch(Module, "__call__", _recorded_module_call(Module.__call__))
        self._patch(autograd, "backward", _recorded(autograd.backward, "autograd::backward", "autograd"))
        from tinytorch.optim import Optimizer

        classes = [Optimizer]
        for cls in classes:
            classes.extend(cls.__subclasses__())
            for method in ("step", "zero_grad"):
                if method in cls.__dict__:
                    self._patch(cls, method, _recorded(cls.__dict__[method], f"Optimizer.{method}#{cls.__name__}.{method}",
                                                       "optimizer"))

    # ----- recording ---------------------------------------------------------------------------
    def _open(self, name, kind, scope=None):
        parent = self._stack[-1] if self._stack else None
        if scope is None:
            scope = self._modules[-1][1] if self._modules else ""
        phase = {"autograd": "backward", "optimizer": "optimizer"}.get(kind, parent.phase if parent else "forward")
        event = Event(name, kind, scope, phase, time.perf_counter_ns(), parent)
        self.events.append(event)
        self._stack.append(event)
        return event

    def _close(self, event):
        event.end = time.perf_counter_ns()
        self._stack.pop()

    def _scope(self, module):
        """The path of ``module`` in the model: ``Sequential.0`` for the first child of a Sequential."""
        if not self._modules:
            return type(module).__name__
        parent, path = self._modules[-1]
        child = next((name for name, m in parent._modules.items() if m is module), type(module).__name__)
        return f"{path}.{child}"

    def _allocate(self, array, inputs, event):
        """Count ``array``'s memory as allocated by ``event`` unless it is a view of an input or known."""
        root = _root(array)
        key = id(root)
        if key in self._live or any(root is _root(x) for x in inputs):
            return
        self._live[key] = root.nbytes, weakref.finalize(root, self._release, key)
        self.live_memory += root.nbytes
        self.peak_memory = max(self.peak_memory, self.live_memory)
        self.memory.append((time.perf_counter_ns(), self.live_memory))
        event.bytes += root.nbytes

    def _release(self, key):
        nbytes, _ = self._live.pop(key)
        self.live_memory -= nbytes
        self.memory.append((time.perf_counter_ns(), self.live_memory))

    def _wrap_backward(self, out, event):
        """Make ``out``'s backward closure record a range named after the op that created it."""
        original = out._backward
        info = event.backward = [f"{event.name}_backward", event.scope, 0]  # the op fills in the FLOPs

        def backward(g):
            prof = _active
            if prof is None or threading.get_ident() != prof._thread:
                return original(g)
            step = prof._open(info[0], "backward", info[1])
            step.flops = info[2]
            try:
                grads = original(g)
            finally:
                prof._close(step)
            for grad in grads:
                if isinstance(grad, np.ndarray):
                    prof._allocate(grad, (g,), step)
            return grads

        self._wrapped.append((weakref.ref(out), original, backward))
        return backward

    # ----- results -----------------------------------------------------------------------------
    @property
    def total_flops(self):
        return sum(e.flops for e in self.events)

    def key_averages(self):
        """One row per event name (calls, total and self time, FLOPs, memory), as ``torch.profiler``'s."""
        return key_averages(self.events)

    def export_chrome_trace(self, path):
        """Write the recording as Trace Event JSON, for https://ui.perfetto.dev or chrome://tracing."""
        with open(path, "w") as f:
            json.dump(chrome_trace(self), f)


def _recorded(fn, name, kind, flops=None):
    """``fn`` recording a range ``name`` while a profile is active; ``flops(args, kwargs, out)``
    gives (forward, backward) FLOPs."""

    @functools.wraps(fn)
    def recorded(*args, **kwargs):
        prof = _active
        if prof is None or threading.get_ident() != prof._thread:
            return fn(*args, **kwargs)
        event = prof._open(name, kind)
        counting = flops is not None and prof._flop_depth == 0  # an op inside a counted op is not counted again
        prof._flop_depth += counting
        try:
            out = fn(*args, **kwargs)
        finally:
            prof._flop_depth -= counting
            prof._close(event)
        if counting:
            event.flops, backward_flops = flops(args, kwargs, out)
            if event.backward is not None:
                event.backward[2] = backward_flops
        return out

    return recorded


def _recorded_from_op(from_op):
    """``Tensor.from_op`` that records the result's memory and wraps its backward closure."""

    @functools.wraps(from_op)
    def recorded(data, inputs, backward):
        out = from_op(data, inputs, backward)
        prof = _active
        if prof is not None and prof._stack and threading.get_ident() == prof._thread:
            event = prof._stack[-1]
            prof._allocate(out.data, [t.data for t in inputs], event)
            if out._backward is not None:
                out._backward = prof._wrap_backward(out, event)
        return out

    return recorded


def _recorded_module_call(call):
    """``Module.__call__`` that opens a range per module, the parent of the operations inside it."""

    @functools.wraps(call)
    def recorded(module, *args, **kwargs):
        prof = _active
        if prof is None or threading.get_ident() != prof._thread:
            return call(module, *args, **kwargs)
        path = prof._scope(module)
        prof._modules.append((module, path))
        event = prof._open(f"nn.Module: {type(module).__name__}", "module", path)
        try:
            return call(module, *args, **kwargs)
        finally:
            prof._close(event)
            prof._modules.pop()

    return recorded


class record_function(contextlib.ContextDecorator):
    """A range of your own in the profile (``with record_function("data"): ...``); nothing when no profile records."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self._prof = prof = _active
        self._event = prof._open(self.name, "user") if prof is not None and threading.get_ident() == prof._thread else None
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._prof._close(self._event)
        return False


class EventAverage:
    """One row of ``key_averages``: the events of one name, summed (times in microseconds)."""

    def __init__(self, key):
        self.key = key
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.flops = self.self_cpu_memory_usage = 0

    @property
    def cpu_time(self):
        """Average total time per call (microseconds)."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (f"EventAverage({self.key!r}, count={self.count}, cpu_time_total={self.cpu_time_total:.1f}, "
                f"self_cpu_time_total={self.self_cpu_time_total:.1f}, flops={self.flops})")


SORT_KEYS = ("self_cpu_time_total", "cpu_time_total", "cpu_time", "count", "flops", "self_cpu_memory_usage")


class KeyAverages(list):
    """The rows of ``profile.key_averages()``; ``table()`` formats them like ``torch.profiler``."""

    def table(self, sort_by="self_cpu_time_total", row_limit=100):
        """The rows as a text table, largest ``sort_by`` first, at most ``row_limit`` rows."""
        if sort_by not in SORT_KEYS:
            raise ValueError(f"table: sort_by must be one of {SORT_KEYS}, got {sort_by!r}")
        rows = sorted(self, key=lambda r: getattr(r, sort_by), reverse=True)[:max(row_limit, 0)]
        self_total = sum(r.self_cpu_time_total for r in self) or 1.0
        width = max([len(r.key) for r in rows] + [4]) + 2
        heads = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "Self CPU Mem",
                 "# of Calls", "Total MFLOPs"]
        rule = "-" * width + "  " + "  ".join("-" * 12 for _ in heads)
        lines = [rule, f"{'Name':<{width}}  " + "  ".join(f"{h:>12}" for h in heads), rule]
        for r in rows:
            cells = [f"{100 * r.self_cpu_time_total / self_total:.2f}%", _us(r.self_cpu_time_total),
                     f"{100 * r.cpu_time_total / self_total:.2f}%", _us(r.cpu_time_total), _us(r.cpu_time),
                     _bytes(r.self_cpu_memory_usage), str(r.count), f"{r.flops / 1e6:.3f}" if r.flops else "--"]
            lines.append(f"{r.key:<{width}}  " + "  ".join(f"{c:>12}" for c in cells))
        lines += [rule, f"Self CPU time total: {_us(self_total)}"]
        return "\n".join(lines)


def _us(us):
    return f"{us / 1e6:.3f}s" if us >= 1e6 else f"{us / 1e3:.3f}ms" if us >= 1e3 else f"{us:.3f}us"


def _bytes(n):
    for unit, size in (("Gb", 2**30), ("Mb", 2**20), ("Kb", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} b"


def key_averages(events):
    """Aggregate ``events`` by name: calls, total and self time (microseconds), FLOPs and bytes."""
    children = {}
    for e in events:
        if e.parent is not None:
            children[id(e.parent)] = children.get(id(e.parent), 0) + (e.end - e.start)
    rows = {}
    for e in events:
        row = rows.get(e.name)
        if row is None:
            row = rows[e.name] = EventAverage(e.name)
        total = e.end - e.start
        row.count += 1
        row.cpu_time_total += total / 1e3
        row.self_cpu_time_total += (total - children.get(id(e), 0)) / 1e3
        row.flops += e.flops
        row.self_cpu_memory_usage += e.bytes
    return KeyAverages(rows.values())


def chrome_trace(prof):
    """The recording of ``prof`` as a Trace Event dict: complete events ("X") and memory counters ("C")."""
    pid, tid = os.getpid(), prof.thread_id
    events = [{"name": e.name, "cat": e.kind, "ph": "X", "ts": (e.start - prof.start) / 1e3,
               "dur": (e.end - e.start) / 1e3, "pid": pid, "tid": tid,
               "args": {"scope": e.scope, "phase": e.phase, "flops": e.flops, "bytes": e.bytes}}
              for e in prof.events]
    events += [{"name": "live tensor memory", "ph": "C", "ts": (t - prof.start) / 1e3, "pid": pid,
                "args": {"bytes": nbytes}} for t, nbytes in prof.memory]
    return {"traceEvents": events, "displayTimeUnit": "ms"}
