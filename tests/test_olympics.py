"""The AI Olympics: the submission format, scoring of the course's reference submissions (bits per
byte against PyTorch's cross-entropy and a uniform model, deterministic quality, interleaved timing)
in the grading sandbox, and hostile submissions that must be refused with a reason while the others
are still scored."""
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

import tinytorch
from tinytorch.datasets import load_python_docs
from tinytorch.models import GPT
from tinytorch.models.evaluation import bits_per_byte
from tinytorch.text import BPETokenizer
from tinytorch_course import ROOT, SOURCE, olympics
from tinytorch_course.cli import main
from tinytorch_course.grading import GradingError, sandbox

QUICK = {"warmup": 1, "min_repeats": 3, "max_repeats": 3}


@pytest.fixture(scope="module")
def text():
    return load_python_docs()


@pytest.fixture(scope="module")
def references(text, tmp_path_factory):
    return olympics.reference_submissions(text, tmp_path_factory.mktemp("olympics"), steps=40)


@pytest.fixture
def copy_of(references, tmp_path):
    """A fresh copy of the baseline submission, named ``name``, to damage."""
    def make(name):
        return shutil.copytree(references[0], tmp_path / name)
    return make


def _edit_config(folder, **changes):
    config = json.loads((folder / olympics.CONFIG).read_text())
    config.update(changes)
    (folder / olympics.CONFIG).write_text(json.dumps(config))


def _edit_weights(folder, edit):
    state = tinytorch.load(folder / olympics.WEIGHTS)
    edit(state)
    tinytorch.save(state, folder / olympics.WEIGHTS)


def test_split_is_consecutive_and_complete():
    text = "".join(chr(65 + i % 26) for i in range(1001))
    parts = olympics.split(text)
    assert "".join(parts.values()) == text, "split: train + validation + test must be the whole text, in order"
    assert [len(p) for p in parts.values()] == [900, 50, 51], f"split: lengths {[len(p) for p in parts.values()]}"


def test_bits_per_byte_matches_torch_cross_entropy(torch, text):
    tokenizer = BPETokenizer.train(text[:20_000], 300)
    tinytorch.manual_seed(0)
    model = GPT(tokenizer.vocab_size, 16, 16, 2, 1, 32).eval()
    sample = text[-3000:]
    bpb, nats = bits_per_byte(model, tokenizer, sample, batch_size=3)
    ids = tokenizer.encode(sample)
    expected = math.log(tokenizer.vocab_size)  # the first token: a uniform guess
    for start in range(0, len(ids) - 1, 16):  # one window at a time
        window = ids[start:start + 17]
        logits = torch.tensor(model(np.array([window[:-1]])).data[0], dtype=torch.float64)
        expected += torch.nn.functional.cross_entropy(logits, torch.tensor(window[1:]), reduction="sum").item()
    assert nats == pytest.approx(expected, rel=1e-9), f"bits_per_byte: total nats {nats}, PyTorch gives {expected}"
    assert bpb == pytest.approx(expected / len(sample.encode()) / math.log(2), rel=1e-12)


def test_a_uniform_model_scores_log2_vocab_bits_per_token(text):
    tokenizer = BPETokenizer.train(text[:20_000], 280)
    model = GPT(tokenizer.vocab_size, 8, 8, 1, 1, 8).eval()
    model.head.weight.data[...] = 0
    model.head.bias.data[...] = 0
    sample = text[-2000:]
    bpb, _ = bits_per_byte(model, tokenizer, sample)
    expected = len(tokenizer.encode(sample)) * math.log2(tokenizer.vocab_size) / len(sample.encode())
    assert bpb == pytest.approx(expected, rel=1e-12), f"uniform model: {bpb} bits per byte, expected {expected}"


def test_submission_round_trip_gives_the_same_model(references, text):
    for folder in references:
        model, tokenizer, size = olympics.load_submission(folder)
        assert size == olympics.size_on_disk(folder)
        assert isinstance(tokenizer, BPETokenizer)
        ids = np.array([tokenizer.encode(text[:100])[:model.context_length]])
        again, _, _ = olympics.load_submission(folder)
        np.testing.assert_array_equal(model(ids).data, again(ids).data)
    config = json.loads((references[1] / olympics.CONFIG).read_text())
    assert config["quantized"] is True and config["model"] == "GPT"


def test_references_are_scored_and_show_the_spread(references, text):
    result = olympics.score(references, text, benchmark=QUICK)
    baseline, optimized = result["submissions"]
    assert baseline["ok"] and optimized["ok"], f"references not scored: {baseline['reason']} {optimized['reason']}"
    assert optimized["size_bytes"] < 0.8 * baseline["size_bytes"], "the int8 reference should be much smaller"
    assert 0 < baseline["bits_per_byte"] < 8, f"a trained model beats 8 bits per byte, got {baseline['bits_per_byte']}"
    assert abs(optimized["bits_per_byte"] - baseline["bits_per_byte"]) < 0.05, "int8 should cost little quality"
    for entry in (baseline, optimized):
        assert entry["latency"]["repeats"] == 3 and len(entry["latency"]["times"]) == 3
        assert entry["latency"]["ci_low"] <= entry["latency"]["median"] <= entry["latency"]["ci_high"]
        assert entry["seconds_per_token"] == entry["latency"]["p90"] / olympics.NEW_TOKENS
    assert result["environment"]["cpu_count"] >= 1, "the timed event records the machine it ran on"
    again = olympics.score(references, text, benchmark=QUICK)
    assert [e["nats"] for e in again["submissions"]] == [baseline["nats"], optimized["nats"]], "quality must be deterministic"


def test_training_improves_quality(references, text, tmp_path):
    _, tokenizer, _ = olympics.load_submission(references[0])
    config = json.loads((references[0] / olympics.CONFIG).read_text())
    tinytorch.manual_seed(0)
    untrained = GPT(*(config[k] for k in olympics.ARCHITECTURE))
    folder = olympics.write_submission(untrained, tokenizer, tmp_path / "untrained")
    result = olympics.score([references[0], folder], text, benchmark=QUICK)
    trained, random = result["submissions"]
    assert trained["bits_per_byte"] < random["bits_per_byte"] - 0.5, (
        f"40 steps of training should help: trained {trained['bits_per_byte']}, untrained {random['bits_per_byte']}")


def test_events_follow_the_rules(references, text):
    rules = {"size_cap_bytes": olympics.size_on_disk(references[1]), "quality_floor_bpb": 100.0}
    result = olympics.score(references, text, rules, benchmark=QUICK)
    events = result["events"]
    assert events["quality"] == ["optimized"], "only the int8 reference fits under a cap of its own size"
    assert events["smallest"] == ["optimized", "baseline"]
    assert sorted(events["speed"]) == ["baseline", "optimized"]
    assert sorted(events["all_round"]) == ["baseline", "optimized"]
    strict = olympics.score(references, text, {"quality_floor_bpb": 0.01}, benchmark=QUICK)["events"]
    assert strict["speed"] == strict["smallest"] == [], "nobody reaches a floor of 0.01 bits per byte"


def _pickle_weights(folder):
    (folder / olympics.WEIGHTS).unlink()
    (folder / "weights.pkl").write_bytes(pickle.dumps({"x": 1}))


def _pickle_inside_npz(folder):
    np.savez(folder / olympics.WEIGHTS, __structure__=np.array([{"a": 1}], dtype=object))


HOSTILE = {
    "pickle file": (_pickle_weights, "pickle file"),
    "pickle in the archive": (_pickle_inside_npz, "not a tinytorch.save file"),
    "unknown model": (lambda f: _edit_config(f, model="LSTM"), "unknown model 'LSTM'"),
    "unknown layer": (lambda f: _edit_config(f, layers=["Mamba"]), "unknown keys ['layers']"),
    "mismatched shapes": (lambda f: _edit_config(f, d_model=48), "has shape"),
    "wrong dtype": (lambda f: _edit_weights(f, lambda s: s.update({"norm.weight": s["norm.weight"].astype(np.float64)})),
                    "dtype float64"),
    "non-finite weights": (lambda f: _edit_weights(f, lambda s: s["head.weight"].__setitem__((0, 0), np.nan)),
                           "head.weight has non-finite values"),
    "missing tokenizer": (lambda f: (f / olympics.TOKENIZER).unlink(), "missing ['tokenizer.json']"),
    "oversized weights": (lambda f: _edit_weights(f, lambda s: s.update({"extra": np.zeros(3_000_000, np.float32)})),
                          "over the limit"),
    "compressed bomb": (lambda f: np.savez_compressed(f / olympics.WEIGHTS, big=np.zeros(4_000_000, np.float32)),
                        "unpacks to 16,000,"),
    "regex pattern": (lambda f: (f / olympics.TOKENIZER).write_text(json.dumps({"pattern": "(a+)+$"})),
                      "GPT-2 pre-tokenization pattern"),
    "vocabulary mismatch": (lambda f: _edit_config(f, vocab_size=400), "vocab_size 400"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_submission_is_refused_with_a_reason(name, copy_of, references, text):
    damage, reason = HOSTILE[name]
    folder = copy_of("hostile")
    damage(folder)
    with pytest.raises(olympics.SubmissionError) as err:
        olympics.load_submission(folder, max_bytes=10_000_000)
    assert reason in str(err.value), f"{name}: expected a reason with {reason!r}, got {err.value}"


def test_hostile_submissions_do_not_affect_the_others(copy_of, references, text, tmp_path):
    broken = copy_of("broken")
    _edit_config(broken, model="LSTM")
    out = tmp_path / "results.json"
    assert main(["olympics", "score", str(references[0]), str(broken), str(references[1]), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    ok = {e["name"]: e["ok"] for e in result["submissions"]}
    assert ok == {"baseline": True, "broken": False, "optimized": True}, f"scored: {ok}"
    assert "unknown model" in result["submissions"][1]["reason"]
    assert "broken" not in sum(result["events"].values(), [])


def test_the_scoring_process_sees_only_the_submissions_and_the_text(references, tmp_path):
    """The sandbox that ``score`` runs in, probed by a script of the test's own: the submission is
    readable and read-only, the file next to it, the repository and the machine's /etc are not there."""
    secret = tmp_path / "answers.txt"
    secret.write_text("the hidden test split")
    job, out = tmp_path / "job", tmp_path / "out"
    job.mkdir()
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    probe = ("import os, sys\n"
             "config, secret, repo = sys.argv[1:]\n"
             "print(open(config).read(1), os.path.exists(secret), os.path.exists(repo), os.path.exists('/etc/passwd'))\n"
             "try:\n    open(config, 'a')\nexcept OSError:\n    print('refused')\n")
    config = references[0] / olympics.CONFIG
    argv = olympics.sandbox_command([references[0]], job, out) + [
        sys.executable, "-c", probe, str(config), str(secret), str(ROOT / "README.md")]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"the probe failed in the sandbox: {run.stderr}"
    assert run.stdout.split() == ["{", "False", "False", "False", "refused"], (
        f"sandbox: expected the submission readable and read-only, nothing else there; the probe printed {run.stdout!r}")
    assert Path("/etc/passwd").exists() and (ROOT / "README.md").exists(), "the probe must look for files that exist"


def test_scoring_refuses_without_the_sandbox(references, text, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    sandbox.problem.cache_clear()
    try:
        with pytest.raises(GradingError, match=r"(?s)refusing to score.*not installed.*--unsafe-no-sandbox"):
            olympics.score(references, text, benchmark=QUICK)
        corpus = tmp_path / "corpus.txt"
        corpus.write_text(text[:50_000])
        assert main(["olympics", "score", str(references[0]), "--text", str(corpus)]) == 2, "the command reports the refusal"
        unsafe = olympics.score(references[:1], text, benchmark=QUICK, unsafe=True)
        assert unsafe["submissions"][0]["ok"], "--unsafe-no-sandbox scores in the instructor's process"
    finally:
        sandbox.problem.cache_clear()


def test_slow_submission_gets_no_score(references, text):
    result = olympics.score(references, text, {"max_seconds_per_token": 1e-9}, benchmark=QUICK)
    assert [e["ok"] for e in result["submissions"]] == [False, False]
    assert all("over the limit" in e["reason"] for e in result["submissions"])


def test_leaderboard_page_has_a_table_per_event_and_the_plot(copy_of, references, text, tmp_path):
    hostile = copy_of("<img src=x onerror=alert(1)>")
    _edit_config(hostile, model="{raw}`html` <b>x</b>\n| injected |")
    results = tmp_path / "results.json"
    record = olympics.score([*references, hostile], text, {"quality_floor_bpb": 100.0}, benchmark=QUICK)
    results.write_text(json.dumps(record))
    page = tmp_path / "book" / "leaderboard.md"
    assert main(["olympics", "leaderboard", str(results), "--out", str(page)]) == 0
    markdown = page.read_text()
    for title, _ in olympics.EVENTS.values():
        assert f"## {title}" in markdown, f"leaderboard: no section {title!r}"
    assert markdown.count("| 1 | baseline |") + markdown.count("| 1 | optimized |") == 4, "one winner per event"
    assert page.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "(leaderboard.png)" in markdown
    assert r"| \<img src\=x onerror\=alert\(1\)\> |" in markdown, "the submission's name, escaped"
    assert not re.search(r"(?<!\\)[<>`{]", markdown.replace("`tinytorch olympics leaderboard`", "")), "markup not escaped"
    assert "\n| injected |" not in markdown


def test_the_capstone_notebook_writes_a_submission_the_scorer_accepts(references, tmp_path):
    """The submission cell of Module 20, run on the int8 reference, gives a folder that loads."""
    nb = nbformat.read(SOURCE / "20_capstone" / "20_capstone.ipynb", as_version=4)
    (cell,) = [c.source for c in nb.cells if c.cell_type == "code" and "tokenizer.save(" in c.source]
    quantized, tokenizer, _ = olympics.load_submission(references[1])
    config = json.loads((references[1] / olympics.CONFIG).read_text())
    namespace = {"json": json, "Path": Path, "tempfile": tempfile, "tinytorch": tinytorch, "tokenizer": tokenizer,
                 "quantized": quantized, "config": {k: config[k] for k in olympics.ARCHITECTURE}}
    exec(cell, namespace)
    model, _, _ = olympics.load_submission(namespace["folder"])
    ids = np.array([tokenizer.encode("for x in range(3):")])
    np.testing.assert_array_equal(model(ids).data, quantized(ids).data)
    shutil.rmtree(namespace["folder"])
