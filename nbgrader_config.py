"""nbgrader configuration of the TinyTorch course.

Read by `tinytorch course ...` and `tinytorch check`, and by nbgrader's own commands when they are
run from the repository root. Each module ``source/NN_name/NN_name.ipynb`` is an nbgrader
assignment ``NN_name`` with one notebook of the same name.
"""
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

# ----- course and directories (relative to the repository root) ---------------------------------
c.CourseDirectory.course_id = "tinytorch"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.egg-info", ".DS_Store"]
c.CourseDirectory.max_file_size = 20_000  # kB: larger files in a submission are not copied

# ----- student version ----------------------------------------------------------------------------
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True
c.GenerateAssignment.create_assignment = True

# ----- autograding: the tests that run and the points that count come from source/ --------------
# Deleted graded cells are put back from the gradebook; edited, converted or re-pointed ones are
# overwritten from it (nbgrader's OverwriteCells); duplicated grade ids are dropped (DeduplicateIds).
c.OverwriteCells.add_missing_cells = True
c.Autograde.autograde_preprocessors = [
    "tinytorch_course.grading.sandbox.SandboxedExecute",  # nbgrader's Execute in bubblewrap, kernel deaths, output cap
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SandboxedExecute.timeout = 60  # seconds per cell; a cell past it is interrupted and scores 0
c.SandboxedExecute.memory_limit_mb = 3072  # address-space limit of the grading kernel (RLIMIT_AS)
c.SandboxedExecute.max_processes = 128  # processes and threads of the kernel's user (RLIMIT_NPROC)
c.SandboxedExecute.max_file_mb = 64  # largest file the kernel may write (RLIMIT_FSIZE)
c.SandboxedExecute.disk_mb = 256  # the kernel's writable home and /tmp, each an in-memory file system
c.SandboxedExecute.cpu_seconds = 900  # CPU time of the kernel (RLIMIT_CPU)
c.SandboxedExecute.max_output_chars = 200_000  # output kept per cell while executing
c.SandboxedExecute.max_kernel_restarts = 3  # cells that kill the kernel are skipped, then re-run
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 200

# ----- feedback: graded cells keep their points and pass/fail, never their hidden tests -----------
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tinytorch_course.grading.feedback_pages.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# ----- the whole run (`tinytorch course grade`) ---------------------------------------------------
# Wall-clock limit for one (student, module) submission, kernel restarts included.
c.SandboxedExecute.submission_timeout = 900
