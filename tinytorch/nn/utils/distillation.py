# Generated from source/18_compression/18_compression.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Knowledge distillation: train a small student on a large teacher's softened predictions."""
import numpy as np

from tinytorch.nn.activations import log_softmax
from tinytorch.nn.losses import cross_entropy
from tinytorch.tensor import Tensor


def distillation_loss(student_logits, teacher_logits, targets, temperature=4.0, alpha=0.9):
    """``alpha * T**2 * KL(softmax(teacher / T) || softmax(student / T))`` (mean over the batch)
    ``+ (1 - alpha) * cross_entropy(student, targets)`` (Hinton, Vinyals and Dean, 2015)."""
    teacher = teacher_logits.data if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    if student_logits.shape != teacher.shape or student_logits.ndim != 2:
        raise ValueError(f"distillation_loss: expected student and teacher logits of one shape (N, classes), "
                         f"got {student_logits.shape} and {teacher.shape}")
    t, dtype = float(temperature), student_logits.dtype
    log_p = log_softmax(Tensor(teacher, dtype=dtype) / t, dim=1).data  # a constant
    log_q = log_softmax(student_logits / t, dim=1)
    kl = (Tensor(np.exp(log_p), dtype=dtype) * (Tensor(log_p, dtype=dtype) - log_q)).sum() / len(teacher)
    return kl * (alpha * t * t) + cross_entropy(student_logits, targets) * (1 - alpha)
