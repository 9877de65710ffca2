# Generated from source/18_compression/18_compression.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Pruning, as ``torch.nn.utils.prune``: magnitude masks kept beside the original weight
(``weight_orig``, ``weight_mask``, and ``weight = weight_orig * weight_mask`` recomputed at every
forward), and structured pruning that removes whole neurons and channels."""
import copy
import types

import numpy as np

from tinytorch.nn.layers import Linear, Parameter, Sequential
from tinytorch.nn.spatial import Conv2d
from tinytorch.tensor import Tensor


def _count(amount, size):
    """How many of ``size`` entries ``amount`` prunes: an int is a count, a float a fraction (rounded)."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise TypeError(f"prune: amount must be an int or a float, got {type(amount).__name__}")
    if isinstance(amount, (int, np.integer)):
        if not 0 <= amount <= size:
            raise ValueError(f"prune: amount {amount} must be between 0 and the number of entries {size}")
        return int(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"prune: amount {amount} must be a fraction in [0, 1] (or an int count)")
    return round(amount * size)


def l1_mask(t, amount, default_mask=None):
    """A 0/1 float32 mask of ``t``'s shape: of the entries still kept by ``default_mask`` (all if
    None), the ``amount`` with the smallest magnitude become 0."""
    t = np.asarray(t)
    mask = np.ones(t.shape, np.float32) if default_mask is None else np.array(default_mask, np.float32)
    kept = np.flatnonzero(mask == 1)
    k = _count(amount, kept.size)
    smallest = kept[np.argsort(np.abs(t.ravel()[kept]), kind="stable")[:k]]
    mask.ravel()[smallest] = 0
    return mask


class L1Unstructured:
    """Prune the ``amount`` entries of smallest magnitude (an int count, or a fraction of the entries
    not pruned yet)."""

    def __init__(self, amount):
        self.amount = amount

    def compute_mask(self, t, default_mask):
        return l1_mask(t, self.amount, default_mask)

    @classmethod
    def apply(cls, module, name, amount):
        current, mask = _current(module, name)
        return custom_from_mask(module, name, cls(amount).compute_mask(current, mask))


def _current(module, name):
    """The tensor ``name`` of ``module`` as pruning sees it (masked if pruned), and its mask or None."""
    if not hasattr(module, name):
        raise AttributeError(f"prune: {type(module).__name__} has no parameter {name!r}")
    mask = getattr(module, name + "_mask", None)
    return getattr(module, name).data, None if mask is None else mask.data


def _pruned_names(module):
    return [key[:-5] for key in module._parameters if key.endswith("_mask") and key[:-5] + "_orig" in module._parameters]


def _apply_masks(module):
    for name in _pruned_names(module):
        object.__setattr__(module, name, getattr(module, name + "_orig") * getattr(module, name + "_mask"))


def _masked_forward(self, *args, **kwargs):
    """The forward of a pruned module: recompute each ``name = name_orig * name_mask`` first, so that
    masks hold after every optimizer step and gradients reach ``name_orig`` through the mask."""
    _apply_masks(self)
    return type(self).forward(self, *args, **kwargs)


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` with the 0/1 ``mask`` (combined with an earlier mask); return ``module``."""
    current, old = _current(module, name)
    mask = np.asarray(mask, np.float32)
    if mask.shape != current.shape:
        raise ValueError(f"prune: mask of shape {mask.shape} for {name!r} of shape {current.shape}")
    if old is None:
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise TypeError(f"prune: {name!r} of {type(module).__name__} is not a Parameter")
        delattr(module, name)
        setattr(module, name + "_orig", param)
        setattr(module, name + "_mask", Parameter(mask, requires_grad=False))
        object.__setattr__(module, "forward", types.MethodType(_masked_forward, module))
    else:
        getattr(module, name + "_mask").data[...] = old * mask
    _apply_masks(module)
    return module


def l1_unstructured(module, name, amount):
    """Prune the ``amount`` entries of ``module.<name>`` with the smallest magnitude."""
    return L1Unstructured.apply(module, name, amount)


def global_unstructured(parameters, pruning_method, amount):
    """Prune ``amount`` entries over all ``(module, name)`` pairs of ``parameters`` together, ranked by
    ``pruning_method`` (e.g. ``L1Unstructured``): layers with smaller weights lose more."""
    parameters = list(parameters)
    if not parameters:
        raise ValueError("global_unstructured: got no (module, name) pairs")
    currents = [_current(module, name) for module, name in parameters]
    scores = np.concatenate([t.ravel() for t, _ in currents])
    default = np.concatenate([(np.ones(t.size, np.float32) if m is None else m.ravel()) for t, m in currents])
    mask = pruning_method(amount).compute_mask(scores, default)
    start = 0
    for (module, name), (t, _) in zip(parameters, currents):
        custom_from_mask(module, name, mask[start:start + t.size].reshape(t.shape))
        start += t.size


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent: ``name`` becomes a plain Parameter holding
    ``name_orig * name_mask``, and ``name_orig`` and ``name_mask`` go away."""
    if name not in _pruned_names(module):
        raise ValueError(f"prune.remove: parameter {name!r} of {type(module).__name__} has to be pruned first")
    orig, mask = getattr(module, name + "_orig"), getattr(module, name + "_mask")
    orig.data *= mask.data
    for attr in (name + "_orig", name + "_mask", name):
        delattr(module, attr)
    setattr(module, name, orig)
    if not _pruned_names(module):
        del module.forward  # back to the class's forward
    return module


def is_pruned(module):
    """Whether ``module`` or any module inside it has a pruning mask."""
    return any(_pruned_names(m) for m in module.modules())


def sparsity(tensors):
    """The fraction of zero entries over ``tensors`` (arrays or Tensors) together."""
    arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
    return 1.0 - sum(int(np.count_nonzero(a)) for a in arrays) / sum(a.size for a in arrays)


def csr_nbytes(weight, value_bytes=4, index_bytes=4):
    """Bytes of ``weight`` (2-D, or flattened after its first axis) stored as compressed sparse rows:
    one value and one column index per nonzero, and one row pointer per row plus one."""
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    w = w.reshape(len(w), -1)
    return int(np.count_nonzero(w)) * (value_bytes + index_bytes) + (len(w) + 1) * 4


def units_to_keep(weight, amount, n=1):
    """Indices (ascending) of the output units (rows of a Linear weight, filters of a Conv2d weight)
    to keep: all but the ``amount`` with the smallest L-``n`` norm."""
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    norms = np.linalg.norm(w.reshape(len(w), -1), ord=n, axis=1)
    drop = _count(amount, len(w))
    return np.sort(np.argsort(-norms, kind="stable")[:len(w) - drop])


def _keep_outputs(layer, keep):
    layer.weight = Parameter(layer.weight.data[keep])
    if layer.bias is not None:
        layer.bias = Parameter(layer.bias.data[keep])
    if isinstance(layer, Linear):
        layer.out_features = len(keep)
    else:
        layer.out_channels = len(keep)


def _keep_inputs(layer, keep, units):
    """Keep the inputs of ``layer`` fed by the kept units ``keep`` of the previous layer's ``units``
    (a Linear after a Flatten sees each channel as a block of consecutive inputs)."""
    if isinstance(layer, Conv2d):
        layer.weight = Parameter(layer.weight.data[:, keep])
        layer.in_channels = len(keep)
        return
    block, rest = divmod(layer.in_features, units)
    if rest:
        raise ValueError(f"prune.shrink: {layer} cannot follow a layer with {units} output units")
    columns = (keep[:, None] * block + np.arange(block)).ravel()
    layer.weight = Parameter(layer.weight.data[:, columns])
    layer.in_features = len(columns)


def shrink(model, amount, n=1):
    """A smaller copy of the ``Sequential`` ``model``: every ``Linear`` and ``Conv2d`` but the last
    loses the ``amount`` (count or fraction) of its output units with the smallest L-``n`` norm, and
    the next one loses the inputs they fed. Layers in between must act on each unit separately
    (activations, pooling, dropout, flatten)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"prune.shrink: expected a Sequential, got {type(model).__name__}")
    if is_pruned(model):
        raise ValueError("prune.shrink: the model has pruning masks; call prune.remove first")
    layers = [copy.deepcopy(m) for m in model]
    weighted = [layer for layer in layers if type(layer) in (Linear, Conv2d)]
    for layer, following in zip(weighted, weighted[1:]):
        units = len(layer.weight.data)
        keep = units_to_keep(layer.weight, amount, n)
        _keep_outputs(layer, keep)
        _keep_inputs(following, keep, units)
    return Sequential(*layers)
