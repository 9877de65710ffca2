# Generated from source/16_acceleration/16_acceleration.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Process-wide memory settings that make training steps faster (Module 16)."""
import ctypes
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory(mmap_threshold=32 * 2**20, trim_threshold=2**30):
    """Have glibc's malloc keep freed memory for reuse: requests up to ``mmap_threshold`` bytes come
    from the heap, and the heap's top goes back to the kernel only past ``trim_threshold`` bytes
    free. Saves the page faults of re-allocating a step's arrays; the process keeps its peak
    memory. Applies to the whole process; returns False (and changes nothing) without glibc."""
    for name, value in [("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)]:
        if not 0 <= value < 2**31:  # mallopt takes a C int
            raise ValueError(f"keep_freed_memory: {name} must be a byte count in [0, 2**31), got {value}")
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
