"""Render math as MathML when the book is built, so pages need no script or font from the network.

Docutils converts the LaTeX (``docutils.utils.math.latex2mathml``) and browsers display MathML
natively. LaTeX that the converter does not understand is reported as a build warning.
"""
import re

from docutils import nodes
from docutils.utils.math import latex2mathml
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Common LaTeX that the converter spells differently.
REWRITES = (
    (re.compile(r"\\dots\b"), r"\\ldots"),
    (re.compile(r"\\([dt]?frac)\s*(\w)\s*(\w)"), r"\\\1{\2}{\3}"),  # \frac12 -> \frac{1}{2}
    (re.compile(r"\\\\\[[^\]]*\]"), r"\\\\"),  # a line break's extra space: \\[2mm] -> \\
    (re.compile(r"\\(big|Big|bigg|Bigg)(?![a-zA-Z])"), r"\\\1l"),  # \big( -> \bigl(
    (re.compile(r"\\iff(?![a-zA-Z])"), r"\\Longleftrightarrow"),
    (re.compile(r"\\textbf(?![a-zA-Z])"), r"\\mathbf"),
    (re.compile(r"\\emph(?![a-zA-Z])"), r"\\mathit"),
)


def _mathml(self, node, latex, block):
    for pattern, replacement in REWRITES:
        latex = pattern.sub(replacement, latex)
    try:
        return latex2mathml.tex2mathml(latex, as_block=block)
    except Exception as error:  # the converter raises MathError, and other errors on odd input
        logger.warning("cannot render math %r: %s", latex, error, location=node)
        return f'<code class="math">{self.encode(latex)}</code>'


def visit_math(self, node):
    self.body.append(f'<span class="math">{_mathml(self, node, node.astext(), False)}</span>')
    raise nodes.SkipNode


def visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node.get("number"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    self.body.append(_mathml(self, node, node.astext().strip(), True) + "</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
