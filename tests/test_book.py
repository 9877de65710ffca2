"""The course book: its table of contents follows the course structure and what exists, it builds
strictly, its internal links resolve, module pages show the outputs of the reference implementation,
and no solution code or hidden test reaches the site.

The site is built once per test session (fixture ``site``, shared with test_browser.py in the
``book`` xdist group) into a temporary folder, from the committed ``_toc.yml``, with its own
execution cache so that it never races a build running in the repository.
"""
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

import tinytorch_course
from tinytorch_course import book, module_notebooks, solutions
from tinytorch_course.cli import main

ROOT = tinytorch_course.ROOT
SEED_ORDER = ["Building Blocks", "Learning Systems", "Vision & Data", "Language & Attention",
              "Advanced Topics", "Competition"]
# A marker as a line of code (prose may name the markers, as the instructor guide does).
MARKER_LINE = re.compile(r"^\s*#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$", re.MULTILINE)

pytestmark = pytest.mark.xdist_group("book")


_builds = {}


def build_site(base):
    """Build the book once per process into ``base``; return the html folder. A failed build is
    not tried again. Its kernels inherit one BLAS thread (conftest.py)."""
    if base in _builds:
        if _builds[base] is None:
            pytest.fail("the book build failed: see the first test that needed it")
        return _builds[base]
    _builds[base] = None
    _builds[base] = book.build(ROOT, output=base / "book", quiet=True, write=False, cache=base / "jupyter_cache")
    return _builds[base]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def executed_notebook(site, tmp_path_factory):
    """``executed_notebook(path)``: the book's notebook at ``path`` (relative to the repository)
    with the outputs of its run in the book build, so that the tests of milestones and labs check
    that run instead of running the notebook again."""
    from jupyter_cache import get_cache

    cache = get_cache(tmp_path_factory.getbasetemp() / "jupyter_cache")

    def executed(path):
        nb = nbformat.read(ROOT / path, as_version=4)
        return cache.merge_match_into_notebook(nb)[1]

    return executed


@pytest.fixture(scope="session")
def executed_milestone(executed_notebook):
    """``executed_milestone(name)``: book/milestones/``name`` as the book build ran it."""
    return lambda name: executed_notebook(Path("book") / "milestones" / name)


def toc_docnames(root=ROOT):
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def toc_captions(root=ROOT):
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [part["caption"] for part in toc["parts"]]


# --- the table of contents ---------------------------------------------------------------------

def test_toc_is_up_to_date():
    assert not book.outdated(), "generated files differ from what exists: run `tinytorch book`"
    assert main(["book", "--check"]) == 0


def test_toc_phases_follow_the_seed_order():
    names = [caption.split(" ", 1)[1] for caption, _ in book.toc_entries()[1:-1]]
    assert names == SEED_ORDER
    assert [c.split(" ", 1)[1] for c in toc_captions()[1:-1]] == SEED_ORDER


def test_toc_phases_match_course_structure_document():
    """The phases, module numbers, names and milestones are those of the course structure."""
    seed = ROOT / "tinytorch_course" / "course-structure.md"
    block = seed.read_text(encoding="utf-8").split("## 📖 Table of Contents Structure", 1)[1]
    block = block.split("```", 2)[1]
    phases = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith(" "):
            phases.append([line.strip(), [], []])
        elif m := re.match(r"\s+[├└]─ (\d\d)\. (.+?)\s*(\[.*\])?$", line):
            phases[-1][1].append((int(m.group(1)), m.group(2)))
        elif m := re.search(r"Milestones? (\d\d)(?:-(\d\d))? unlock", line):
            first, last = int(m.group(1)), int(m.group(2) or m.group(1))
            phases[-1][2].extend(range(first, last + 1))
    assert [p[0] for p in phases] == [p.caption for p in book.PHASES]
    for (caption, mods, stones), phase in zip(phases, book.PHASES):
        assert tuple(n for n, _ in mods) == phase.modules, caption
        assert tuple(stones) == phase.milestones, caption
        assert all(book.MODULES[n] == name for n, name in mods), caption


def _fake_root(tmp_path, modules=(), milestones=()):
    for name in modules:
        path = tmp_path / "release" / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), path)
    (tmp_path / "book" / "milestones").mkdir(parents=True)
    for name in milestones:
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / "book" / "milestones" / f"{name}.ipynb")
    for page in book.START[1] + book.ABOUT[1][:1]:
        (tmp_path / page).with_suffix(".md").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).with_suffix(".md").write_text("# page\n")
    return tmp_path


def test_toc_lists_only_what_exists(tmp_path):
    root = _fake_root(tmp_path, ["01_tensor", "07_training", "09_spatial"], ["01_perceptron", "04_cnn"])
    parts = dict(book.toc_entries(root))
    assert list(parts) == ["Start here"] + [p.caption for p in book.PHASES] + ["About the course"]
    assert parts["🧱 Building Blocks"] == [
        ("book/phases/building-blocks", "Overview"), ("release/01_tensor/01_tensor", "01. Tensor")]
    assert parts["🧠 Learning Systems"] == [
        ("book/phases/learning-systems", "Overview"),
        ("book/milestones/01_perceptron", "🏆 Milestone 01: Perceptron (1957)")]
    assert [d for d, _ in parts["🖼️ Vision & Data"]] == [
        "book/phases/vision-and-data", "release/09_spatial/09_spatial", "book/milestones/04_cnn"]
    assert parts["🎓 Advanced Topics"][1] == ("release/07_training/07_training", "07. Training Abstractions ⭐ Optional")
    # pages of the About part that do not exist yet (the instructor guide here) are left out
    assert [d for d, _ in parts["About the course"]] == ["book/design-rationale"]
    text = book.render_toc(root)
    assert yaml.safe_load(text)["root"] == "book/intro"
    assert "02_activations" not in text


def test_toc_puts_a_lab_after_its_module(tmp_path):
    root = _fake_root(tmp_path, ["17_quantization", "19_benchmarking"])
    (tmp_path / "book" / "advanced").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "book" / "advanced" / "17_quantization_lab.ipynb")
    assert dict(book.toc_entries(root))["🎓 Advanced Topics"][1:] == [
        ("release/17_quantization/17_quantization", "17. Quantization"),
        ("book/advanced/17_quantization_lab", "🔬 Quantization lab"),
        ("release/19_benchmarking/19_benchmarking", "19. Benchmarking")]
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "book" / "advanced" / "21_extra_lab.ipynb")
    with pytest.raises(ValueError, match=r"lab number\(s\) \[21\]"):
        book.toc_entries(root)


def test_toc_rejects_a_number_outside_the_phases(tmp_path):
    root = _fake_root(tmp_path, milestones=["09_llm"])
    with pytest.raises(ValueError, match=r"milestone number\(s\) \[9\]"):
        book.toc_entries(root)


def test_execution_cache_is_keyed_on_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "package_hash", lambda package=None: "a")
    cache = tmp_path / "cache"
    assert book.prepare_cache(cache) is True
    (cache / "global.db").write_text("cached")
    assert book.prepare_cache(cache) is False
    assert (cache / "global.db").exists()
    assert book.prepare_cache(cache, force=True) is True
    assert not (cache / "global.db").exists()
    (cache / "global.db").write_text("cached")
    monkeypatch.setattr(book, "package_hash", lambda package=None: "b")
    assert book.prepare_cache(cache) is True
    assert not (cache / "global.db").exists()


def test_package_hash_changes_with_the_code(tmp_path):
    (tmp_path / "nn").mkdir()
    (tmp_path / "nn" / "layers.py").write_text("x = 1\n")
    before = book.package_hash(tmp_path)
    (tmp_path / "nn" / "layers.py").write_text("x = 2\n")
    assert book.package_hash(tmp_path) != before


# --- the built site -----------------------------------------------------------------------------

@pytest.mark.slow
def test_every_toc_page_is_built(site):
    for docname in toc_docnames():
        assert (site / docname).with_suffix(".html").is_file(), docname
    assert (site / "index.html").is_file() and (site / "search.html").is_file()
    assert not (site / "source").exists() and not (site / "_sources" / "source").exists()


def _module_pages(site):
    """``(release notebook, its page parsed)`` for every module page of the book whose module has an
    instructor notebook (test_toc_is_up_to_date checks that every released module has a page)."""
    for docname in toc_docnames():
        nb_path = (ROOT / docname).with_suffix(".ipynb")
        if nb_path in module_notebooks(ROOT / "release") and (ROOT / "source" / nb_path.parent.name / nb_path.name).exists():
            page = (site / docname).with_suffix(".html")
            yield nb_path, BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


@pytest.mark.slow
def test_module_pages_show_the_release_notebooks_with_reference_outputs(site):
    """A module page shows the student notebook (its stubs, its download) with the outputs of the
    reference implementation, figures included, and no error."""
    pages = list(_module_pages(site))
    assert pages, "no module page"
    for nb_path, soup in pages:
        docname = nb_path.relative_to(ROOT).with_suffix("").as_posix()
        assert soup.select("div.cell"), f"{docname} shows no code cell"
        assert "NotImplementedError" in soup.get_text(), f"{docname} does not show the student's stubs"
        assert len(soup.select("div.cell_output")) >= 2, f"{docname} shows no outputs of the reference run"
        assert "outputs on this page come from the reference implementation" in " ".join(soup.get_text().split())
        for src in [img["src"] for img in soup.select(".cell_output img")]:
            assert (site / docname).parent.joinpath(src).resolve().is_file(), src
        assert not soup.select(".output.traceback, .output.error"), f"{docname} shows an error"
        assert (site / "_sources" / nb_path.relative_to(ROOT)).read_bytes() == nb_path.read_bytes()
    assert any(soup.select(".cell_output img") for _, soup in pages), "no module page shows a figure"


@pytest.mark.slow
def test_module_pages_show_no_solution_line(site):
    """No solution line of a module (by the release's leak rule) is on its page, and no solution
    line of any module is in any module page's outputs."""
    secret = {nb.stem: solutions.solution_lines(nbformat.read(nb, as_version=4))
              for nb in module_notebooks(ROOT / "source")}
    every = set().union(*secret.values())
    assert len(every) >= 10 * len(secret), "too few solution lines: the check would prove nothing"
    found = {}
    for nb_path, soup in _module_pages(site):
        outputs = [out.get_text() for out in soup.select("div.cell_output")]
        leaks = {**solutions.leaks(secret[nb_path.stem], [soup.get_text()]), **solutions.leaks(every, outputs)}
        if leaks:
            found[nb_path.stem] = sorted(leaks)
    assert not found, f"solution lines on module pages: {found}"


@pytest.mark.slow
def test_milestone_pages_show_their_executed_results(site):
    found = book.milestones()
    if not found:
        pytest.skip("no milestone notebook yet")
    for nb_path in found.values():
        docname = nb_path.relative_to(ROOT).with_suffix("").as_posix()
        soup = BeautifulSoup((site / docname).with_suffix(".html").read_text(encoding="utf-8"), "html.parser")
        assert soup.select(".cell_output"), f"{docname} has no outputs"
        images = [img["src"] for img in soup.select(".cell_output img")]
        assert images, f"{docname} shows no figure"
        for src in images:
            assert (site / docname).parent.joinpath(src).resolve().is_file(), src
        assert not soup.select(".output.traceback, .output.error"), f"{docname} shows an error"


def _solution_lines():
    """Lines of solution code and hidden tests from source/ that students never see: long enough to
    be distinctive, and in (or part of a line of) no student notebook, no markdown of the source
    and no milestone."""
    public = []
    secret = set()
    for nb_path in module_notebooks(ROOT / "source"):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if re.match(r"\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", line):
                    inside = "BEGIN" in line
                elif inside and cell.cell_type == "code":
                    secret.add(" ".join(line.split()))
                else:
                    public.append(line)
    for nb_path in module_notebooks(ROOT / "release") + list(book.milestones().values()):
        public += [line for cell in nbformat.read(nb_path, as_version=4).cells for line in cell.source.splitlines()]
    public = "\n".join(" ".join(line.split()) for line in public)  # a secret line inside a public one is public
    return sorted(line for line in secret if line not in public and len(line) >= 30 and not line.startswith("#"))


def _site_text(path):
    """The text a reader or a download gets from one file of the site, and its code."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    code = raw
    if path.suffix == ".html":
        soup = BeautifulSoup(raw, "html.parser")
        raw, code = soup.get_text(), "\n".join(pre.get_text() for pre in soup.find_all("pre"))
    elif path.suffix == ".ipynb":
        cells = [(c["cell_type"], c["source"] if isinstance(c["source"], str) else "".join(c["source"]))
                 for c in json.loads(raw)["cells"]]
        raw = "\n".join(source for _, source in cells)
        code = "\n".join(source for kind, source in cells if kind == "code")
    return " ".join(raw.split()), code


@pytest.mark.slow
def test_no_solution_code_or_hidden_test_reaches_the_site(site):
    secret = _solution_lines()
    if module_notebooks(ROOT / "source"):
        assert len(secret) >= 10, "too few distinctive solution lines: the check would prove nothing"
    leaks = []
    for path in sorted(site.rglob("*")):
        if not path.is_file() or path.suffix not in {".html", ".ipynb", ".md", ".txt", ".js", ".py"}:
            continue
        text, code = _site_text(path)
        leaks += [(path.relative_to(site), m.group(0).strip()) for m in MARKER_LINE.finditer(code)]
        leaks += [(path.relative_to(site), line) for line in secret if line in text]
    assert not leaks, f"solution code or hidden tests in the site: {leaks[:10]}"


@pytest.mark.slow
def test_internal_links_resolve(site):
    """Every local href and src of every page points to a file that exists, and every #anchor
    to an element with that id."""
    ids = {}

    def ids_of(page):
        if page not in ids:
            ids[page] = {tag["id"] for tag in BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
                         .find_all(id=True)}
        return ids[page]

    broken = []
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag in soup.find_all(["a", "link", "img", "script", "source"]):
            url = tag.get("href") or tag.get("src")
            if not url or url.startswith(("mailto:", "data:", "javascript:")):
                continue
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                if tag.name != "a":
                    broken.append((page.relative_to(site), url, "asset from the network"))
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or not target.is_relative_to(site.resolve()):
                broken.append((page.relative_to(site), url, "missing file"))
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids_of(target):
                broken.append((page.relative_to(site), url, "missing anchor"))
    assert len(pages) >= len(toc_docnames())
    assert not broken, broken[:20]
