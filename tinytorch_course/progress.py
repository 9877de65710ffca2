"""Progress bars for notebooks that still read well once saved, in the book too."""
from IPython.display import display
from tqdm import tqdm


class _TextLine:
    """A file for tqdm: one plain-text output of the notebook, redrawn in place on each write.

    tqdm's notebook widgets would need JavaScript that an offline book does not have, and a plain
    stream would keep every intermediate state; this keeps only the bar's latest state.
    """

    def __init__(self):
        self.handle = display({"text/plain": ""}, raw=True, display_id=True)

    def write(self, text):
        text = text.strip("\r\n")
        if text:
            self.handle.update({"text/plain": text}, raw=True)

    def flush(self):
        pass


def progress(iterable=None, **kwargs):
    """``tqdm(iterable, **kwargs)`` drawn as a single text line that updates in place."""
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("ncols", 90)
    return tqdm(iterable, file=_TextLine(), **kwargs)
