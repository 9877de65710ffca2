"""The AI Olympics (Module 20): submissions of TinyGPT systems, their scoring and the leaderboard.

A **submission** is a folder of data, never code:

- ``config.json``: ``{"format": 1, "model": "GPT", "vocab_size", "context_length", "d_model",
  "nhead", "num_layers", "dim_feedforward", "quantized"}``, the architecture built from the
  package's own ``tinytorch.models.GPT`` (with every ``Linear`` an int8 ``QuantizedLinear`` when
  ``quantized``);
- ``weights.npz``: the model's ``state_dict()`` written by ``tinytorch.save`` (loaded without pickle);
- ``tokenizer.json``: a ``tinytorch.text.BPETokenizer`` written by its ``save``.

``load_submission`` checks every file before building anything and raises ``SubmissionError`` with
the reason. ``evaluate`` scores submissions on the hidden test split of the corpus (``split``):
quality in bits per byte (``tinytorch.models.evaluation``), speed as the p90 latency per
generated token with the KV cache (timed in interleaved rounds across submissions), and size in
bytes on disk, then ranks the events. ``score`` runs ``evaluate`` on all submissions in one process
inside the grading sandbox (``tinytorch_course/grading/sandbox.py``), where the submissions and
the text are read-only and nothing else of the machine is in reach, and reads back its record.
Run as a script (``olympics.py JOB OUT``), this file is that process: it imports nothing from the
course tools, which the sandbox does not show.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FORMAT = 1
CONFIG, WEIGHTS, TOKENIZER = "config.json", "weights.npz", "tokenizer.json"
FILES = (CONFIG, WEIGHTS, TOKENIZER)
MODELS = ("GPT",)
ARCHITECTURE = {  # config key -> (smallest, largest) allowed value
    "vocab_size": (256, 65_536), "context_length": (2, 4096), "d_model": (1, 4096), "nhead": (1, 64),
    "num_layers": (1, 64), "dim_feedforward": (1, 16_384),
}
SPLIT = {"train": 0.90, "validation": 0.05, "test": 0.05}  # fractions of the corpus, in this order
RULES = {  # the rules announced in the module; the instructor may change them on the command line
    "size_cap_bytes": 2_000_000,  # quality event: only submissions at most this large
    "quality_floor_bpb": 3.0,  # speed and smallest events: only submissions at most this many bits per byte
    "max_bytes": 50_000_000,  # larger submissions are refused unread
    "max_seconds_per_token": 1.0,  # slower generation is refused
}
PROMPT_TOKENS, NEW_TOKENS = 8, 32  # the timed generation: prompt length and tokens generated
BENCHMARK = {"warmup": 2, "min_repeats": 10, "budget": 5.0}  # tinytorch.perf.Benchmark's settings of the timing
SANDBOX_LIMITS = {"cpu": 600, "memory": 4 * 2**30, "file_size": 64 * 2**20, "core": 0}  # cpu: seconds per submission


class SubmissionError(ValueError):
    """A submission that cannot be scored; the message says why."""


def split(text):
    """The corpus cut into consecutive ``train`` (first 90%), ``validation`` (next 5%) and ``test``
    (last 5%) parts, by characters. Students see train and validation; the test part is hidden."""
    parts, start = {}, 0
    for name, fraction in SPLIT.items():
        end = len(text) if name == "test" else start + int(len(text) * fraction)
        parts[name], start = text[start:end], end
    return parts


# ----- writing and loading submissions ----------------------------------------------------------
def write_submission(model, tokenizer, folder):
    """Write a ``tinytorch.models.GPT`` (float or quantized by ``tinytorch.quantization.quantize``)
    and its ``BPETokenizer`` as a submission folder; returns the folder's path."""
    import tinytorch
    from tinytorch.quantization import QuantizedLinear

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    attn = model.blocks[0].self_attn
    config = {"format": FORMAT, "model": "GPT", "vocab_size": model.vocab_size,
              "context_length": model.context_length, "d_model": attn.embed_dim, "nhead": attn.num_heads,
              "num_layers": len(model.blocks), "dim_feedforward": model.blocks[0].linear1.out_features,
              "quantized": any(isinstance(m, QuantizedLinear) for m in model.modules())}
    (folder / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
    tinytorch.save(model.state_dict(), folder / WEIGHTS)
    tokenizer.save(folder / TOKENIZER)
    return folder


def size_on_disk(folder):
    """Bytes of every file in the submission folder."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


def _check_files(folder, max_bytes):
    if not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder")
    names = sorted(p.name for p in folder.iterdir())
    for name in names:
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise SubmissionError(f"{name} is not a regular file; a submission holds only the files {list(FILES)}")
        with open(path, "rb") as f:
            if f.read(1) == b"\x80" or name.endswith((".pkl", ".pickle", ".pt", ".pth")):
                raise SubmissionError(f"{name} is a pickle file; pickles can run code when loaded and are refused "
                                      f"(save weights with tinytorch.save)")
    unknown = [n for n in names if n not in FILES]
    missing = [n for n in FILES if n not in names]
    if unknown or missing:
        raise SubmissionError(f"expected exactly the files {list(FILES)}; missing {missing}, unexpected {unknown}")
    size = size_on_disk(folder)
    if size > max_bytes:
        raise SubmissionError(f"the submission is {size:,} bytes, over the limit of {max_bytes:,} bytes")
    return size


def _check_config(folder):
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        raise SubmissionError(f"{CONFIG} is not JSON ({err})") from None
    if not isinstance(config, dict):
        raise SubmissionError(f"{CONFIG} must hold a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise SubmissionError(f"{CONFIG}: expected format {FORMAT}, got {config.get('format')!r}")
    if config.get("model") not in MODELS:
        raise SubmissionError(f"{CONFIG}: unknown model {config.get('model')!r}; expected one of {list(MODELS)}")
    expected = {"format", "model", "quantized", *ARCHITECTURE}
    if set(config) != expected:
        raise SubmissionError(f"{CONFIG}: unknown keys {sorted(set(config) - expected)}, missing keys "
                              f"{sorted(expected - set(config))}; expected exactly {sorted(expected)}")
    for key, (low, high) in ARCHITECTURE.items():
        value = config[key]
        if type(value) is not int or not low <= value <= high:
            raise SubmissionError(f"{CONFIG}: {key} must be an integer in [{low}, {high}], got {value!r}")
    if config["d_model"] % config["nhead"]:
        raise SubmissionError(f"{CONFIG}: d_model {config['d_model']} is not divisible by nhead {config['nhead']}")
    if type(config["quantized"]) is not bool:
        raise SubmissionError(f"{CONFIG}: quantized must be true or false, got {config['quantized']!r}")
    return config


def _check_tokenizer(folder, vocab_size):
    from tinytorch.text import BPETokenizer
    from tinytorch.text.tokenizers import GPT2_PATTERN

    try:
        state = json.loads((folder / TOKENIZER).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        raise SubmissionError(f"{TOKENIZER} is not JSON ({err})") from None
    if not isinstance(state, dict) or state.get("pattern") != GPT2_PATTERN:  # a pattern is code for the regex engine
        raise SubmissionError(f"{TOKENIZER}: expected a BPETokenizer with the GPT-2 pre-tokenization pattern")
    try:
        tokenizer = BPETokenizer.load(folder / TOKENIZER)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise SubmissionError(f"{TOKENIZER} is not a valid BPETokenizer ({err})") from None
    if tokenizer.vocab_size != vocab_size:
        raise SubmissionError(f"{TOKENIZER} has {tokenizer.vocab_size} tokens, {CONFIG} says vocab_size {vocab_size}")
    return tokenizer


def build_model(config):
    """The untrained ``GPT`` that ``config`` describes, with int8 linear layers when it is quantized."""
    from tinytorch.models import GPT
    from tinytorch.nn.layers import Linear
    from tinytorch.quantization import QuantizedLinear

    model = GPT(*(config[key] for key in ARCHITECTURE))
    if config["quantized"]:
        for module in list(model.modules()):
            for name, child in list(module.named_children()):
                if type(child) is Linear:
                    setattr(module, name, QuantizedLinear(child, 1.0))
    return model.eval()


def _load_weights(folder, model, max_bytes):
    import numpy as np

    import tinytorch

    try:
        with zipfile.ZipFile(folder / WEIGHTS) as archive:  # a compressed entry could unpack to any size
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except zipfile.BadZipFile as err:
        raise SubmissionError(f"{WEIGHTS} is not a tinytorch.save file ({err})") from None
    if unpacked > max_bytes:
        raise SubmissionError(f"{WEIGHTS} unpacks to {unpacked:,} bytes, over the limit of {max_bytes:,} bytes")
    try:
        state = tinytorch.load(folder / WEIGHTS)
    except Exception as err:  # np.load's errors for damaged archives vary (zip, format, pickle refused)
        raise SubmissionError(f"{WEIGHTS} is not a tinytorch.save file ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise SubmissionError(f"{WEIGHTS} must hold a dict of parameter names to arrays")
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise SubmissionError(f"{WEIGHTS} does not match {CONFIG}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, param in expected.items():
        value = np.asarray(getattr(state[name], "data", state[name]))
        if value.shape != param.shape or value.dtype != param.dtype:
            raise SubmissionError(f"{WEIGHTS}: {name} has shape {value.shape} and dtype {value.dtype}, the model "
                                  f"expects shape {param.shape} and dtype {param.dtype}")
        if not np.isfinite(value).all():
            raise SubmissionError(f"{WEIGHTS}: {name} has non-finite values (nan or inf)")
        state[name] = value
    model.load_state_dict(state)


def load_submission(folder, max_bytes=RULES["max_bytes"]):
    """``(model, tokenizer, size_bytes)`` of a submission folder, or ``SubmissionError`` saying why not.
    Only data is read: JSON, a pickle-free numpy archive and a tokenizer with the standard pattern."""
    folder = Path(folder)
    size = _check_files(folder, max_bytes)
    config = _check_config(folder)
    tokenizer = _check_tokenizer(folder, config["vocab_size"])
    model = build_model(config)
    _load_weights(folder, model, max_bytes)
    return model, tokenizer, size


# ----- scoring --------------------------------------------------------------------------------
def _generation(model, tokenizer, text):
    """A function generating ``NEW_TOKENS`` greedy tokens with the KV cache after a prompt from ``text``."""
    import numpy as np
    from tinytorch.generation import generate

    prompt = np.asarray([tokenizer.encode(text[:200])[:min(PROMPT_TOKENS, model.context_length // 2 or 1)]])

    def run():
        generate(model, prompt, NEW_TOKENS, temperature=0, use_cache=True)

    return run


def _events(entries, rules):
    """The ranking of each event (lists of names, best first) among the scored ``entries``."""
    scored = [e for e in entries if e["ok"]]
    floor = [e for e in scored if e["bits_per_byte"] <= rules["quality_floor_bpb"]]

    def ranked(pool, key):
        return [e["name"] for e in sorted(pool, key=lambda e: (e[key], e["name"]))]

    events = {
        "quality": ranked([e for e in scored if e["size_bytes"] <= rules["size_cap_bytes"]], "bits_per_byte"),
        "speed": ranked(floor, "seconds_per_token"),
        "smallest": ranked(floor, "size_bytes"),
    }
    ranks = {key: ranked(scored, key) for key in ("bits_per_byte", "seconds_per_token", "size_bytes")}
    for e in scored:  # all-round: the sum of the places in quality, speed and size; lowest wins
        e["all_round"] = sum(order.index(e["name"]) + 1 for order in ranks.values())
    events["all_round"] = ranked(scored, "all_round")
    return events


def evaluate(folders, text, rules=None, benchmark=None):
    """Evaluate the submission ``folders`` on the hidden test split of ``text``, in this process; a
    JSON-ready record.

    A submission that fails to load, to evaluate or the time limit gets ``ok: false`` and a
    ``reason``; the others are scored. Only the latency (timed interleaved across submissions with
    a ``tinytorch.perf.Benchmark`` of the settings ``benchmark``) varies between runs; its samples
    are recorded.
    """
    from tinytorch.models.evaluation import bits_per_byte
    from tinytorch.perf import Benchmark
    from tinytorch.perf.benchmark import environment, timed

    rules = {**RULES, **(rules or {})}
    test = split(text)["test"]
    entries, runs, names = [], {}, set()
    for folder in map(Path, folders):
        name = folder.name if folder.name not in names else str(folder)
        names.add(name)
        entry = {"name": name, "path": str(folder), "ok": False, "reason": ""}
        entries.append(entry)
        try:
            model, tokenizer, entry["size_bytes"] = load_submission(folder, rules["max_bytes"])
            entry["bits_per_byte"], entry["nats"] = bits_per_byte(model, tokenizer, test)
            run = _generation(model, tokenizer, test)
            first = timed(run) / NEW_TOKENS
            if first > rules["max_seconds_per_token"]:
                raise SubmissionError(f"generation took {first:.3f} s per token, over the limit of "
                                      f"{rules['max_seconds_per_token']} s")
        except SubmissionError as err:
            entry["reason"] = str(err)
            continue
        except Exception as err:  # a well-formed submission the model cannot evaluate (e.g. out of memory)
            entry["reason"] = f"evaluation failed: {type(err).__name__}: {err}"
            continue
        entry["ok"], runs[name] = True, run
    benchmark = Benchmark(**(benchmark or BENCHMARK))
    if len(runs) > 1:
        results = benchmark.compare(runs).results
    else:
        results = {name: benchmark.run(run, name) for name, run in runs.items()}
    for entry in entries:
        if entry["ok"]:
            stats = results[entry["name"]].stats
            entry["seconds_per_token"] = stats["p90"] / NEW_TOKENS
            entry["latency"] = {"unit": f"seconds per call of {NEW_TOKENS} tokens", "p90": stats["p90"],
                                "median": stats["median"], "ci_low": stats["ci_low"], "ci_high": stats["ci_high"],
                                "repeats": stats["n"], "times": list(map(float, results[entry["name"]].times))}
    return {"format": FORMAT, "rules": rules, "environment": environment(), "test_characters": len(test),
            "test_bytes": len(test.encode("utf-8")), "submissions": entries, "events": _events(entries, rules)}


def sandbox_command(folders, job, out):
    """The bwrap command line (up to the program) of the scoring process: it sees the ``folders``
    and the folder ``job`` read-only, writes only to ``out``, and imports ``tinytorch``."""
    import tinytorch
    from tinytorch_course.grading import sandbox

    package = Path(tinytorch.__file__).resolve().parent
    env = {"HOME": sandbox.HOME, "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join([str(package.parent), str(sandbox.INSIDE)]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TINYTORCH_KERNEL_LIMITS": json.dumps({**SANDBOX_LIMITS, "cpu": SANDBOX_LIMITS["cpu"] * (len(folders) + 1)})}
    return sandbox.bwrap_command(out, None, sandbox.kernel_uid(), env=env,
                                 read_only=[job, package, Path(__file__).resolve(), *folders])


def score(folders, text, rules=None, benchmark=None, unsafe=False):
    """``evaluate`` run in the grading sandbox, all ``folders`` in one process so that the timing
    interleaves them; refused (``GradingError``) where the sandbox cannot run, unless ``unsafe``,
    which evaluates in this process."""
    if unsafe:
        return evaluate(folders, text, rules, benchmark)
    from tinytorch_course.grading import sandbox
    from tinytorch_course.grading.common import TEMP_PREFIX, GradingError

    if problem := sandbox.problem():
        raise GradingError(f"refusing to score without a sandbox: {problem}")
    folders = [Path(folder).absolute() for folder in folders]
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "olympics-") as scratch:
        job, out = Path(scratch, "job"), Path(scratch, "out")
        job.mkdir(mode=0o755)
        out.mkdir(mode=0o777)
        os.chmod(out, 0o777)  # the sandbox's own user writes the record there
        (job / "text.txt").write_text(text, encoding="utf-8")
        (job / "job.json").write_text(json.dumps({"folders": list(map(str, folders)), "rules": rules,
                                                  "benchmark": benchmark}))
        argv = sandbox_command(folders, job, out) + [sys.executable, str(Path(__file__).resolve()), str(job), str(out)]
        run = subprocess.run(argv, capture_output=True, text=True)
        record = out / "record.json"
        if run.returncode or not record.is_file():
            raise GradingError(f"scoring failed in the sandbox (exit status {run.returncode}): {run.stderr.strip()[-2000:]}")
        return json.loads(record.read_text())


# ----- the course's reference submissions ---------------------------------------------------------
REFERENCE = {"vocab_size": 320, "context_length": 32, "d_model": 32, "nhead": 2, "num_layers": 2, "dim_feedforward": 64}


def train_reference(text, steps=60, batch_size=8, seed=0, train_characters=100_000, **architecture):
    """A small TinyGPT trained on the train split of ``text`` with Adam: ``(model, tokenizer)``.
    The BPE tokenizer learns from the first ``train_characters`` of the split."""
    import numpy as np
    import tinytorch
    from tinytorch.models import GPT
    from tinytorch.nn.losses import cross_entropy
    from tinytorch.optim import Adam
    from tinytorch.text import BPETokenizer

    arch = {**REFERENCE, **architecture}
    train = split(text)["train"][:train_characters]
    tokenizer = BPETokenizer.train(train, arch["vocab_size"])
    arch["vocab_size"] = tokenizer.vocab_size
    ids = np.asarray(tokenizer.encode(train), dtype=np.int64)
    tinytorch.manual_seed(seed)
    model = GPT(*(arch[key] for key in ARCHITECTURE))
    optimizer, rng, context = Adam(model.parameters(), lr=3e-3), np.random.default_rng(seed), arch["context_length"]
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - context - 1, batch_size)
        windows = np.stack([ids[s:s + context + 1] for s in starts])
        logits = model(windows[:, :-1])
        loss = cross_entropy(logits.reshape(-1, tokenizer.vocab_size), windows[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), tokenizer


def reference_submissions(text, folder, steps=800):
    """Write the course's two reference submissions into ``folder``: ``baseline`` (a small float GPT)
    and ``optimized`` (the same model quantized to int8, calibrated on training windows)."""
    import numpy as np
    from tinytorch.quantization import quantize

    model, tokenizer = train_reference(text, steps)
    ids = np.asarray(tokenizer.encode(split(text)["train"][:20_000]), dtype=np.int64)
    context = model.context_length
    calibration = [ids[i:i + context][None] for i in range(0, len(ids) - context, len(ids) // 8)]
    folder = Path(folder)
    return [write_submission(model, tokenizer, folder / "baseline"),
            write_submission(quantize(model, calibration), tokenizer, folder / "optimized")]


# ----- the leaderboard page ----------------------------------------------------------------------
EVENTS = {
    "quality": ("Quality under a size cap", "lowest bits per byte among submissions of at most {size_cap_bytes:,} bytes"),
    "speed": ("Speed under a quality floor", "lowest p90 latency per generated token among submissions of at "
              "most {quality_floor_bpb} bits per byte"),
    "smallest": ("Smallest under a quality floor", "fewest bytes on disk among submissions of at most "
                 "{quality_floor_bpb} bits per byte"),
    "all_round": ("All-round", "lowest sum of the places in quality, speed and size among all scored submissions"),
}


def _text(value, limit=300):
    """``value`` as plain Markdown text: every punctuation character escaped, so that a submission's
    name or a reason quoting its config cannot inject markup, HTML or roles into the book."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", " ".join(str(value).split())[:limit])


def _row(place, entry):
    latency = entry["latency"]
    per_token = 1e3 / NEW_TOKENS
    return (f"| {place} | {_text(entry['name'])} | {entry['bits_per_byte']:.4f} | {entry['size_bytes']:,} | "
            f"{entry['seconds_per_token'] * 1e3:.3f} | {latency['ci_low'] * per_token:.3f} to "
            f"{latency['ci_high'] * per_token:.3f} | {latency['repeats']} |")


def leaderboard(record, out):
    """Write the leaderboard page of a ``score`` record to ``out`` (Markdown) with a plot of quality
    against size and speed next to it (same name, ``.png``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = {e["name"]: e for e in record["submissions"]}
    scored = [e for e in record["submissions"] if e["ok"]]
    lines = ["# Leaderboard", "",
             "% Generated by `tinytorch olympics leaderboard` from the scores. Do not edit.", "",
             f"Every submission was evaluated on the hidden test split ({record['test_bytes']:,} bytes of text): "
             "quality in bits per byte, speed as the p90 latency per generated token with the KV cache "
             f"({NEW_TOKENS} tokens per call, timed in interleaved rounds), size in bytes on disk.", ""]
    for event, (title, rule) in EVENTS.items():
        lines += [f"## {title}", "", f"Rule: {rule.format(**record['rules'])}.", ""]
        names = record["events"][event]
        if not names:
            lines += ["No submission qualified.", ""]
            continue
        lines += ["| Place | Submission | Bits per byte | Size (bytes) | ms per token (p90) | 95% CI of the median "
                  "(ms per token) | Repeats |", "|---|---|---|---|---|---|---|"]
        lines += [_row(place, entries[name]) for place, name in enumerate(names, 1)] + [""]
    refused = [e for e in record["submissions"] if not e["ok"]]
    if refused:
        lines += ["## Not scored", "", "| Submission | Reason |", "|---|---|"]
        lines += [f"| {_text(e['name'])} | {_text(e['reason'])} |" for e in refused] + [""]
    if scored:
        figure, (by_size, by_speed) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for e in scored:
            for ax, x in ((by_size, e["size_bytes"] / 1e3), (by_speed, e["seconds_per_token"] * 1e3)):
                ax.scatter(x, e["bits_per_byte"])
                ax.annotate(e["name"].replace("$", r"\$"), (x, e["bits_per_byte"]), fontsize=8)
        by_size.set(xlabel="size on disk (kB)", ylabel="bits per byte (lower is better)")
        by_size.ticklabel_format(axis="y", useOffset=False)
        by_speed.set(xlabel="p90 latency per token (ms)")
        figure.suptitle("Quality against size and speed")
        figure.tight_layout()
        figure.savefig(out.with_suffix(".png"), dpi=100)
        plt.close(figure)
        lines += ["## Quality against size and speed", "",
                  f"![Bits per byte against size on disk and latency per token]({out.with_suffix('.png').name})", ""]
    out.write_text("\n".join(lines))
    return out


# ----- command line -----------------------------------------------------------------------------
def _corpus(path):
    if path is None:
        from tinytorch.datasets import load_python_docs
        return load_python_docs()
    return Path(path).read_text(encoding="utf-8")


def _cmd_score(args):
    rules = {key: value for key, value in (("size_cap_bytes", args.size_cap), ("quality_floor_bpb", args.quality_floor),
                                           ("max_bytes", args.max_bytes),
                                           ("max_seconds_per_token", args.max_seconds_per_token)) if value is not None}
    record = score(args.submissions, _corpus(args.text), rules, unsafe=args.unsafe_no_sandbox)
    text = json.dumps(record, indent=1) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    for entry in record["submissions"]:
        if entry["ok"]:
            print(f"{entry['name']}: {entry['bits_per_byte']:.4f} bits/byte, {entry['size_bytes']:,} bytes, "
                  f"{entry['seconds_per_token'] * 1e3:.2f} ms/token (p90)")
        else:
            print(f"{entry['name']}: not scored: {entry['reason']}")
    return 0


def _cmd_reference(args):
    for folder in reference_submissions(_corpus(args.text), args.out, args.steps):
        print(f"{folder}: {size_on_disk(folder):,} bytes")
    return 0


def _cmd_leaderboard(args):
    print(leaderboard(json.loads(Path(args.results).read_text()), args.out))
    return 0


def add_commands(commands):
    from tinytorch_course.grading.common import reported

    p = commands.add_parser("olympics", help="the AI Olympics: score submissions, publish the leaderboard",
                            description="Score TinyGPT submissions of Module 20 and publish the leaderboard.")
    steps = p.add_subparsers(dest="step", required=True, metavar="STEP")
    s = steps.add_parser(
        "score", help="evaluate submission folders on the hidden test split",
        description="Load each submission folder (data only: no submitted code runs), evaluate it on the last "
        "5%% of the corpus (never shown to students) in bits per byte, time its generation with the KV cache "
        "interleaved with the others, measure its size, and rank the events; all in one process inside the "
        "grading sandbox, which sees the submissions and the text read-only and nothing else.")
    s.add_argument("submissions", nargs="+", help="submission folders")
    s.add_argument("--text", help="corpus text file (default: the Python documentation topics)")
    s.add_argument("--out", help="write the results as JSON to this file")
    s.add_argument("--size-cap", type=int, help=f"quality event size cap in bytes (default {RULES['size_cap_bytes']})")
    s.add_argument("--quality-floor", type=float,
                   help=f"bits per byte floor of the speed and smallest events (default {RULES['quality_floor_bpb']})")
    s.add_argument("--max-bytes", type=int, help=f"largest submission accepted (default {RULES['max_bytes']})")
    s.add_argument("--max-seconds-per-token", type=float,
                   help=f"slowest generation accepted (default {RULES['max_seconds_per_token']})")
    s.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="score in this process, with your own user's rights (only for submissions you trust)")
    s.set_defaults(func=reported(_cmd_score))

    s = steps.add_parser("reference", help="train and write the course's reference submissions",
                         description="Train a small TinyGPT on the train split and write it as OUT/baseline and, "
                         "quantized to int8, as OUT/optimized.")
    s.add_argument("out", help="folder to write the submissions into")
    s.add_argument("--text", help="corpus text file (default: the Python documentation topics)")
    s.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
    s.set_defaults(func=_cmd_reference)

    s = steps.add_parser("leaderboard", help="write the leaderboard page of the book from scores",
                         description="Write a Markdown page with a table per event and a plot of quality against "
                         "size and speed (an image next to it) from the JSON that `olympics score --out` wrote.")
    s.add_argument("results", help="the JSON file written by `tinytorch olympics score --out`")
    s.add_argument("--out", default="book/competition/leaderboard.md", help="page to write (default: %(default)s)")
    s.set_defaults(func=_cmd_leaderboard)


if __name__ == "__main__":  # the scoring process in the sandbox (see score): olympics.py JOB OUT
    from kernel import limit_self  # the grading kernel's launcher, which the sandbox shows

    limit_self()
    job, out = map(Path, sys.argv[1:])
    spec = json.loads((job / "job.json").read_text())
    result = evaluate(spec["folders"], (job / "text.txt").read_text(encoding="utf-8"), spec["rules"], spec["benchmark"])
    (out / "record.json").write_text(json.dumps(result))
