"""The grading kernel: an IPython kernel that runs a submission under limits.

Started by ``SandboxedExecute`` with a policy in ``TINYTORCH_GRADING_POLICY`` (JSON):

- ``memory_limit``: bytes of address space (RLIMIT_AS); a memory bomb gets ``MemoryError`` or
  kills only this kernel. Core dumps are off and files written are capped at 256 MiB.
- ``hidden``: paths the kernel may not open at all (the repository with the instructor notebooks,
  the reference package and the gradebooks; the grading run's folders with other submissions);
- ``readable``: paths inside hidden ones that it may read (the Python environment, the package copy);
- ``writable``: the only paths it may write, create, rename or delete (its working folder, scratch).
- It may not start processes, load native libraries through ctypes, or signal other processes;
  it exits when the grading process that started it goes away.

The policy is enforced with a Python audit hook (PEP 578), installed after the kernel has started
and before any submitted code runs. It stops ordinary Python file and process access; it is not
a sandbox against code that deliberately attacks the interpreter. For that, grade in a container
(see the instructor guide). Python warnings are written to stdout, so a warning raised by a
student's code inside a graded cell does not by itself cost the cell's points.
"""
import json
import os
import resource
import sys
import threading
import time
import warnings

BLOCKED_EVENTS = {
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.cdata", "ctypes.string_at",
    "ctypes.wstring_at",
}
PATH_WRITE_EVENTS = {
    "os.remove": 1, "os.rmdir": 1, "os.rename": 2, "os.truncate": 1, "os.chmod": 1, "os.chown": 1,
    "os.link": 2, "os.symlink": 2, "os.mkdir": 1, "os.utime": 1, "shutil.rmtree": 1, "shutil.copyfile": 2,
    "shutil.move": 2, "os.chflags": 1, "os.setxattr": 1, "os.removexattr": 1,
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


PRIVATE = "tinytorch-private-"  # prefix of the course tools' temporary folders (hidden from kernels)


def _under(path, roots):
    """Whether ``path`` is one of ``roots`` or inside one; a root ending in ``*`` is a name prefix."""
    return any(path.startswith(root[:-1]) if root.endswith("*") else path == root or path.startswith(root.rstrip("/") + "/")
               for root in roots)


def _resolve(path):
    if isinstance(path, int):
        return None
    return os.path.realpath(os.fsdecode(path))


def make_hook(hidden, readable, writable):
    hidden, readable, writable = ([p if p.endswith("*") else os.path.realpath(p) for p in paths]
                                  for paths in (hidden, readable, writable))
    own_pid = os.getpid()

    def hook(event, args):
        if event == "open":
            path = _resolve(args[0])
            if path is None:
                return
            mode, flags = args[1] or "r", args[2] or 0
            wants_write = any(m in mode for m in "wax+") or flags & WRITE_FLAGS
            if _under(path, writable):
                return
            if _under(path, hidden) and not _under(path, readable):
                raise PermissionError(f"grading: reading {path} is not allowed")
            if wants_write:
                raise PermissionError(f"grading: writing {path} is not allowed")
        elif event in PATH_WRITE_EVENTS:
            for arg in args[:PATH_WRITE_EVENTS[event]]:
                path = _resolve(arg)
                if path is not None and not _under(path, writable):
                    raise PermissionError(f"grading: {event} on {path} is not allowed")
        elif event in ("os.listdir", "os.scandir"):
            path = _resolve(args[0] if args[0] is not None else ".")
            if path is not None and _under(path, hidden) and not _under(path, readable + writable):
                raise PermissionError(f"grading: listing {path} is not allowed")
        elif event in ("os.kill", "os.killpg"):
            if args[0] not in (own_pid, 0) or event == "os.killpg":
                raise PermissionError("grading: signalling other processes is not allowed")
        elif event in BLOCKED_EVENTS or event.startswith("os.exec") or event.startswith("os.spawn"):
            raise PermissionError(f"grading: {event} is not allowed")

    return hook


def _warnings_to_stdout(message, category, filename, lineno, file=None, line=None):
    sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(1)


def main():
    policy = json.loads(os.environ.pop("TINYTORCH_GRADING_POLICY", "{}"))
    limit = policy.get("memory_limit")
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2**20, 256 * 2**20))
    threading.Thread(target=_exit_with_parent, daemon=True).start()

    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    warnings.showwarning = _warnings_to_stdout
    sys.addaudithook(make_hook(policy.get("hidden", []), policy.get("readable", []),
                               policy.get("writable", []) + [os.getcwd()]))
    app.start()


if __name__ == "__main__":
    main()
