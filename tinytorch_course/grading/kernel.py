"""The grading kernel: an IPython kernel that limits itself before any submitted code runs.

Started by ``SandboxedExecute`` inside the sandbox (this file is mounted there on its own, so it
imports nothing from the course tools). ``TINYTORCH_KERNEL_LIMITS`` (JSON) gives the limits, set as
both soft and hard limits so that the submission cannot raise them: ``cpu`` seconds, ``memory``
(address space, bytes), ``processes`` (of the kernel's user, threads included), ``file_size``
(bytes) and ``core`` (0: no core dumps). Python warnings go to stdout, so that a warning raised by
a student's own code inside a graded cell does not by itself cost the cell's points (nbgrader
scores a cell that writes to stderr 0). With ``TINYTORCH_KERNEL_WATCH_PARENT`` (grading without
the sandbox), the kernel exits when the process that started it goes away.
"""
import json
import os
import resource
import sys
import threading
import time
import warnings

LIMITS = {"cpu": "RLIMIT_CPU", "memory": "RLIMIT_AS", "processes": "RLIMIT_NPROC",
          "file_size": "RLIMIT_FSIZE", "core": "RLIMIT_CORE"}


def _warnings_to_stdout(message, category, filename, lineno, file=None, line=None):
    sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(1)


def limit_self():
    """Set the limits of ``TINYTORCH_KERNEL_LIMITS`` on this process, for good."""
    for name, value in json.loads(os.environ.pop("TINYTORCH_KERNEL_LIMITS", "{}")).items():
        limit = getattr(resource, LIMITS[name], None)
        if limit is not None:  # macOS has no RLIMIT_NPROC equivalent for every kind
            resource.setrlimit(limit, (value, value))


def main():
    limit_self()
    if os.environ.pop("TINYTORCH_KERNEL_WATCH_PARENT", None):
        threading.Thread(target=_exit_with_parent, daemon=True).start()

    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    warnings.showwarning = _warnings_to_stdout
    app.start()


if __name__ == "__main__":
    main()
