"""Reading the error a code cell ended with: which line of the cell failed, and with what message."""
import re

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def error_of(cell):
    """The error output of a code cell, or None."""
    return next((out for out in cell.get("outputs", []) if out.output_type == "error"), None)


def failing_line(cell, error):
    """1-based number of the line of ``cell`` where ``error`` was raised (the innermost frame in the
    cell itself), or None when the traceback does not say."""
    count = cell.get("execution_count")
    frames = re.findall(rf"(?:Cell In\[{count}\]|<ipython-input-{count}-[0-9a-f]+>), line (\d+)",
                        ANSI.sub("", "\n".join(error.get("traceback", [])))) if count is not None else []
    return int(frames[-1]) if frames else None


def hidden_lines(source):
    """Numbers (1-based) of the lines of ``source`` inside hidden-test regions, markers included."""
    lines = set()
    for match in HIDDEN_REGION.finditer(source):
        first = source.count("\n", 0, match.start()) + 1
        lines.update(range(first, first + match.group().rstrip("\n").count("\n") + 1))
    return lines


def summary(cell):
    """(``Name: message``, failing source line or None) of the error a code cell ended with, or None."""
    error = error_of(cell)
    if error is None:
        return None
    number = failing_line(cell, error)
    lines = cell.source.split("\n")
    line = lines[number - 1].strip() if number and number <= len(lines) else None
    return f"{error.ename}: {error.evalue}".strip(), line
