"""Execute a submission for grading: nbgrader's Execute preprocessor in a restricted kernel.

On top of nbgrader's per-cell timeout, ``SandboxedExecute``

- runs the notebook in the grading kernel of ``tinytorch_course.kernel`` (memory limit, a
  file-access policy, warnings sent to stdout, one BLAS thread), with the package imported from
  ``package_path`` when one is given;
- survives kernel deaths (``os._exit``, a segfault, the out-of-memory killer): the cell that
  killed the kernel gets an error output and is skipped, and the notebook runs again in a fresh
  kernel, at most ``max_kernel_restarts`` times;
- treats a kernel that stays busy after a timeout interrupt as dead, so one cell that ignores
  ``KeyboardInterrupt`` costs one timeout, not one per remaining cell;
- keeps at most ``max_output_chars`` of output per cell while executing.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode

from tinytorch_course import PACKAGE, ROOT
from tinytorch_course.kernel import PRIVATE

KERNEL_NAME = "tinytorch-grading"
SKIP_TAG = "skip-execution"
KERNEL_DIED = ("KernelDied", "the kernel died while running this cell (exit, crash or memory limit); "
               "the cell was skipped and the notebook run again without it")


def error_output(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    memory_limit_mb = Integer(3072, help="address-space limit of the grading kernel, in MiB").tag(config=True)
    max_output_chars = Integer(200_000, help="output kept per cell while executing").tag(config=True)
    max_kernel_restarts = Integer(3, help="cells that may kill the kernel before the rest is not run").tag(config=True)
    submission_timeout = Integer(900, help="wall-clock seconds for one submission (used by `tinytorch course grade`)").tag(config=True)
    package_path = Unicode("", help="folder put first on the kernel's sys.path (a private copy of the package)").tag(config=True)
    hidden_paths = List(Unicode(), help="paths the kernel may not open (default: the repository)").tag(config=True)
    readable_paths = List(Unicode(), help="paths inside hidden ones that the kernel may read").tag(config=True)

    def _kernel_policy(self, workdir, scratch):
        """Hidden: the whole repository (instructor notebooks, gradebooks, submissions, the reference
        package, git history), the gradebook in use, and the temporary folders of every release,
        collection and grading run on the machine (copies of instructor notebooks and submissions). Readable inside it: the Python environment
        and the package (the private copy when there is one). Writable: the working folder and scratch."""
        hidden = [*(self.hidden_paths or [str(ROOT)]), os.path.join(tempfile.gettempdir(), PRIVATE + "*")]
        db_url = (self.resources or {}).get("nbgrader", {}).get("db_url", "")
        if db_url.startswith("sqlite:///"):
            hidden = hidden + [db_url[len("sqlite:///"):].split("?")[0]]
        readable = [sys.prefix, self.package_path or str(PACKAGE), *self.readable_paths]
        return {
            "memory_limit": self.memory_limit_mb * 2**20,
            "hidden": hidden,
            "readable": readable,
            "writable": [workdir, scratch, "/dev/null"],
        }

    def _install_kernel(self, workdir):
        """Write the grading kernel's spec into a private folder and point Jupyter at it."""
        self._scratch = tempfile.TemporaryDirectory(prefix=PRIVATE + "kernel-")
        scratch = self._scratch.name
        spec_dir = Path(scratch, "jupyter", "kernels", KERNEL_NAME)
        spec_dir.mkdir(parents=True)
        env = {
            "TINYTORCH_GRADING_POLICY": json.dumps(self._kernel_policy(workdir, scratch)),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": scratch, "TMPDIR": scratch, "IPYTHONDIR": str(Path(scratch, "ipython")),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if self.package_path:
            env["PYTHONPATH"] = self.package_path
        spec = {
            "argv": [sys.executable, "-m", "tinytorch_course.kernel", "-f", "{connection_file}"],
            "display_name": "TinyTorch grading", "language": "python", "env": env,
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(Path(scratch, "jupyter")), os.environ.get("JUPYTER_PATH")]))
        self.kernel_name = KERNEL_NAME

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
