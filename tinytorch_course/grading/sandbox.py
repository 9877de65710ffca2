"""The sandbox of every graded notebook: nbgrader's Execute with its kernel inside bubblewrap.

``SandboxedExecute`` starts the grading kernel (``kernel.py``) as

    bwrap [namespaces, mounts] [setpriv to a user of its own, when run as root] python kernel.py

- **what it sees**: read-only ``/usr`` (with the ``/bin`` and ``/lib`` links), the dynamic
  loader's cache, the Python environment, the kernel launcher, and this submission's copy of the
  package at ``/opt/tinytorch/pkg``; a private home (its working folder) and ``/tmp``, both small
  in-memory file systems; the folder of its connection sockets. Nothing else: no repository,
  no gradebook, no other submission, no instructor home, no ``/etc`` beyond the loader cache;
- **namespaces**: its own PID namespace (``--die-with-parent``: when the kernel or the grading
  process stops, every process the submission started is killed with it), no network but its own
  loopback (``--unshare-net``), its own IPC, UTS and cgroup namespaces, a clean environment;
- **limits** (``kernel.py``, before any submitted code runs): CPU seconds, address space,
  processes, file size, no core dumps.

The kernel talks to nbgrader over Unix sockets (ZeroMQ's ``ipc`` transport) in that socket folder,
since TCP cannot cross the network namespace. On top of nbgrader's per-cell timeout,
``SandboxedExecute`` survives kernel deaths (the cell that killed the kernel gets an error output
and is skipped, and the notebook runs again in a fresh kernel, at most ``max_kernel_restarts``
times), treats a kernel that stays busy after a timeout interrupt as dead, and keeps at most
``max_output_chars`` of output per cell.
"""
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from tinytorch_course.grading.common import TEMP_PREFIX

KERNEL_NAME = "tinytorch-grading"
KERNEL_LAUNCHER = Path(__file__).with_name("kernel.py")
INSIDE = Path("/opt/tinytorch")  # where the launcher and the package copy appear in the sandbox
HOME = "/home/student"
SKIP_TAG = "skip-execution"
KERNEL_DIED = ("KernelDied", "the kernel died while running this cell (exit, crash or a limit); "
               "the cell was skipped and the notebook run again without it")
NAMESPACES = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
SANDBOX_UIDS = 200_000  # first user id of kernels when grading runs as root: one id per kernel
_uids = itertools.count()
HOW_TO_FIX = (
    "Grading runs each submission in a bubblewrap sandbox (https://github.com/containers/bubblewrap). "
    "Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install bubblewrap`) "
    "on a Linux machine that allows user namespaces (Ubuntu 24.04: "
    "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`; some older kernels: "
    "`sudo sysctl kernel.unprivileged_userns_clone=1`; in Docker: `--security-opt seccomp=unconfined` "
    "or run the grading on the host). There is no bubblewrap on macOS or Windows: grade in a Linux "
    "virtual machine. Only if you trust every submission, pass --unsafe-no-sandbox to grade without it."
)


def error_output(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _as_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def kernel_uid():
    """A user id of its own for the next kernel when grading runs as root (else None): its process
    limit then counts only its own processes, and it owns no file outside the sandbox."""
    return SANDBOX_UIDS + (os.getpid() % 20_000) * 100 + next(_uids) % 100 if _as_root() else None


def _python_paths():
    """Folders of the Python environment (venv, base installation), outside /usr."""
    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths.add(Path(sys.executable).resolve().parent.parent)
    paths |= {Path(p) for p in (sys.prefix, sys.base_prefix)}  # as the interpreter names them, links kept
    return sorted(p for p in paths if not p.is_relative_to("/usr") and p.is_dir())


def _bind(args, source, dest, mode="--ro-bind"):
    """Append a bind mount, creating its missing parents readable (bwrap makes them 0700)."""
    for parent in reversed(Path(dest).parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    args += [mode, str(source), str(dest)]


def bwrap_command(sockets, package, uid=None, disk_mb=256, extra_files=(), env=None, read_only=()):
    """The bwrap command line (up to the kernel's own command) for one grading kernel; ``read_only``:
    further files and folders it sees where they are, read-only (skipped when missing)."""
    args = ["bwrap", *NAMESPACES, "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in (env or {}).items():
        args += ["--setenv", key, value]
    args += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if Path("/", link).is_symlink():
            args += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
        elif Path("/", link).is_dir():
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--dev", "/dev", "--proc", "/proc",
             "--perms", "1777", "--size", str(disk_mb * 2**20), "--tmpfs", "/tmp",
             "--perms", "0777", "--size", str(disk_mb * 2**20), "--tmpfs", HOME]
    for path in _python_paths():
        _bind(args, path, path)
    _bind(args, KERNEL_LAUNCHER, INSIDE / "kernel.py")
    if package:
        _bind(args, package, INSIDE / "pkg")
    for path in extra_files:  # the submission's other files, read-only in the working folder
        args += ["--ro-bind", str(path), f"{HOME}/{Path(path).name}"]
    for path in read_only:
        _bind(args, path, path, "--ro-bind-try")
    _bind(args, sockets, sockets, "--bind")
    args += ["--chdir", HOME]
    if uid is not None:
        args += ["--cap-add", "CAP_SETUID,CAP_SETGID", "setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
    return args


@functools.cache
def problem():
    """Why grading cannot sandbox kernels on this machine, with how to fix it; None when it can."""
    if sys.platform != "linux":
        return f"bubblewrap needs Linux; this is {sys.platform}. {HOW_TO_FIX}"
    if not shutil.which("bwrap"):
        return f"bubblewrap (`bwrap`) is not installed. {HOW_TO_FIX}"
    if _as_root() and not shutil.which("setpriv"):
        return "grading as root needs `setpriv` (util-linux) to run each kernel as a user of its own. " + HOW_TO_FIX
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "probe-") as tmp:
        os.chmod(tmp, 0o777)
        probe = bwrap_command(Path(tmp), None, kernel_uid()) + [sys.executable, "-c", "pass"]
        try:
            run = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap could not start ({err}). {HOW_TO_FIX}"
    if run.returncode:
        return f"bubblewrap cannot create the sandbox here: {run.stderr.strip()[:300]}. {HOW_TO_FIX}"
    return None


def _processes_of(uid):
    """How many processes (threads included) user ``uid`` runs now; 0 where /proc is missing."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1"))
    return count


class SandboxedExecute(Execute):
    sandbox = Bool(True, help="run the kernel in bubblewrap (False only with --unsafe-no-sandbox)").tag(config=True)
    kernel_uid = Integer(-1, help="user id of the kernel when grading runs as root (-1: none)").tag(config=True)
    memory_limit_mb = Integer(3072, help="address-space limit of the grading kernel, in MiB").tag(config=True)
    max_processes = Integer(128, help="processes and threads the kernel may run").tag(config=True)
    max_file_mb = Integer(64, help="largest file the kernel may write, in MiB").tag(config=True)
    disk_mb = Integer(256, help="size of the kernel's writable home and /tmp (each, in memory), in MiB").tag(config=True)
    cpu_seconds = Integer(900, help="CPU seconds of the kernel (all its cells)").tag(config=True)
    max_output_chars = Integer(200_000, help="output kept per cell while executing").tag(config=True)
    max_kernel_restarts = Integer(3, help="cells that may kill the kernel before the rest is not run").tag(config=True)
    submission_timeout = Integer(900, help="wall-clock seconds for one submission (used by `tinytorch course grade`)").tag(config=True)
    package_path = Unicode("", help="the package copy the kernel imports `tinytorch` from").tag(config=True)

    def _limits(self, uid):
        own = 0 if uid is not None else _processes_of(os.getuid())  # the limit counts per user
        return {"cpu": self.cpu_seconds, "memory": self.memory_limit_mb * 2**20, "core": 0,
                "file_size": self.max_file_mb * 2**20, "processes": own + self.max_processes}

    def _install_kernel(self, workdir):
        """Write the grading kernel's spec into a private folder and point Jupyter at it."""
        self._scratch = tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "kernel-")
        scratch = Path(self._scratch.name)
        self._sockets = scratch / "sockets"
        self._sockets.mkdir()
        uid = self.kernel_uid if self.kernel_uid >= 0 else None
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
               "PYTHONDONTWRITEBYTECODE": "1", "TINYTORCH_KERNEL_LIMITS": json.dumps(self._limits(uid))}
        if self.sandbox:
            os.chmod(self._sockets, 0o777)  # the kernel's own user creates its sockets there
            extra = [p for p in Path(workdir).iterdir() if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"]
            env.update({"HOME": HOME, "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp", "LANG": "C.UTF-8",
                        "PATH": "/usr/bin:/bin", "PYTHONPATH": str(INSIDE / "pkg")})
            argv = bwrap_command(self._sockets, self.package_path, uid, self.disk_mb, extra, env)
            argv += [sys.executable, str(INSIDE / "kernel.py"), "-f", "{connection_file}"]
            env = {}
        else:  # unsafe: the instructor's own user, the instructor's files in reach
            env.update({"MPLCONFIGDIR": str(scratch), "IPYTHONDIR": str(scratch / "ipython"),
                        "PYTHONPATH": self.package_path, "TINYTORCH_KERNEL_WATCH_PARENT": "1"})
            argv = [sys.executable, str(KERNEL_LAUNCHER), "-f", "{connection_file}"]
        spec_dir = scratch / "jupyter" / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {"argv": argv, "display_name": "TinyTorch grading", "language": "python", "env": env,
                "interrupt_mode": "message"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(scratch / "jupyter"), os.environ.get("JUPYTER_PATH")]))
        self.kernel_name = KERNEL_NAME

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.transport = "ipc"  # Unix sockets: the kernel has no network to reach a TCP port
        km.connection_file = str(self._sockets / "kernel.json")
        km.ip = str(self._sockets / "kernel")
        if self.sandbox and self.kernel_uid >= 0:  # the kernel's own user reads the connection file
            write = km.write_connection_file

            def write_readable(**kwargs):
                write(**kwargs)
                os.chmod(km.connection_file, 0o644)
            km.write_connection_file = write_readable
        return km

    def preprocess(self, nb, resources=None, km=None):
        workdir = str(Path(resources.get("metadata", {}).get("path") or ".").resolve())
        self.resources = resources
        self._install_kernel(workdir)
        killers = []
        self._death_reason = KERNEL_DIED
        try:
            while True:
                try:
                    return super().preprocess(nb, resources, km)
                except DeadKernelError:
                    index = self._current_cell
                    cell = nb.cells[index]
                    cell.outputs = [error_output(*self._death_reason)]
                    cell.metadata.setdefault("tags", []).append(SKIP_TAG)
                    killers.append(cell)
                    self.log.warning("skipped cell %d (%s); running the notebook again", index + 1, self._death_reason[0])
                    self._death_reason = KERNEL_DIED
                    if len(killers) > self.max_kernel_restarts:
                        for later in nb.cells[index + 1:]:
                            if later.cell_type == "code":
                                later.outputs = [error_output("NotRun", "too many kernel deaths; this cell was not run")]
                        return nb, resources
        finally:
            for cell in killers:
                cell.metadata["tags"].remove(SKIP_TAG)
                if not cell.metadata["tags"]:
                    del cell.metadata["tags"]
            self._scratch.cleanup()

    def preprocess_cell(self, cell, resources, index):
        self._current_cell = index
        self._output_chars = 0
        return super().preprocess_cell(cell, resources, index)

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)
        try:  # an interrupted kernel answers at once; one that ignores the interrupt is restarted
            await self.kc.kernel_info(reply=True, timeout=10)
        except Exception:
            self._death_reason = ("CellTimeoutError", f"the cell ran past {timeout} s and ignored the interrupt; "
                                  "it was skipped and the notebook run again without it")
            raise DeadKernelError("kernel still busy after interrupt") from None
        return reply

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        self._output_chars += size
        if self._output_chars > self.max_output_chars:
            if self._output_chars - size <= self.max_output_chars:
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text=f"\n[output past {self.max_output_chars} characters dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)
