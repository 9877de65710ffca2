"""Performance tools: the benchmark harness (Module 19), the accelerated layers and the allocator
setting (Module 16)."""
from tinytorch.perf.benchmark import (
    Benchmark,
    Comparison,
    ManualClock,
    Result,
    bootstrap_ci,
    environment,
    markdown_table,
    median_ci,
    offline,
    paired_ratio,
    percentile,
    plot,
    single_stream,
    summarize,
    timed,
)
from tinytorch.perf.fused import accelerate, fused_linear
from tinytorch.perf.memory import keep_freed_memory

__all__ = [
    "Benchmark", "Comparison", "Result", "ManualClock", "timed", "environment",
    "percentile", "median_ci", "summarize", "bootstrap_ci", "paired_ratio",
    "single_stream", "offline", "markdown_table", "plot",
    "accelerate", "fused_linear", "keep_freed_memory",
]
