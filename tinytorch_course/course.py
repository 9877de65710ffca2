"""The shape of the course, declared once: its modules, its phases in reading order, and the
modules each milestone needs (course-structure.md). The book's table of contents and its
module-to-milestone table, ``tinytorch status`` and ``tinytorch milestone`` all read it from here.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    caption: str
    overview: str
    modules: tuple
    milestones: tuple = ()
    pages: tuple = ()  # more pages after the milestones, shown once they exist


@dataclass(frozen=True)
class Milestone:
    name: str
    requires: tuple
    training: str


MODULES = {
    1: "Tensor", 2: "Activations", 3: "Layers", 4: "Losses", 5: "Autograd", 6: "Optimizers",
    7: "Training Abstractions ⭐ Optional", 8: "DataLoader", 9: "Spatial", 10: "Tokenization",
    11: "Embeddings", 12: "Attention", 13: "Transformers", 14: "KV Caching", 15: "Profiling",
    16: "Acceleration", 17: "Quantization", 18: "Compression", 19: "Benchmarking",
    20: "AI Olympics (Capstone)",
}
_LEARNING = (1, 2, 3, 4, 5, 6)  # modules 01-06: every milestone after the perceptron trains with them
MILESTONES = {
    1: Milestone("Perceptron (1957)", (1, 2, 3), "simple gradient step"),
    2: Milestone("XOR (1969)", _LEARNING, "manual loop"),
    3: Milestone("MNIST MLP (1986)", _LEARNING, "manual loop + batching"),
    4: Milestone("CNN (1998)", _LEARNING + (8, 9), "manual loop + DataLoader"),
    5: Milestone("Transformer (2017)", _LEARNING + (8, 9, 10, 11, 12, 13), "manual loop + attention"),
}
# The course in reading order: each phase lists its modules, then the milestones that its last
# module unlocks.
PHASES = (
    Phase("🧱 Building Blocks", "book/phases/building-blocks", (1, 2, 3, 4)),
    Phase("🧠 Learning Systems", "book/phases/learning-systems", (5, 6), (1, 2, 3)),
    Phase("🖼️ Vision & Data", "book/phases/vision-and-data", (8, 9), (4,)),
    Phase("🗣️ Language & Attention", "book/phases/language-and-attention", (10, 11, 12, 13), (5,)),
    Phase("🎓 Advanced Topics", "book/phases/advanced-topics", (7, 14, 15, 16, 17, 18, 19)),
    Phase("🏅 Competition", "book/phases/competition", (20,), pages=("book/competition/leaderboard",)),
)


def spans(numbers):
    """``(1, 2, 3, 8, 9)`` -> ``"01-03, 08-09"``: module numbers as the specification writes them."""
    runs = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a:02d}" if a == b else f"{a:02d}-{b:02d}" for a, b in runs)
