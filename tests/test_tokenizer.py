"""CharTokenizer and byte-level BPE: ids identical to tiktoken's on the same vocabulary, round trips,
the merge order and its tie-break, special tokens, the vocabulary layout, save/load and errors."""
import itertools
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_module
from tinytorch.datasets import load_python_docs
from tinytorch.text import GPT2_PATTERN, BPETokenizer, CharTokenizer
from tinytorch.text.tokenizers import count_pretokens, learn_merges

SPECIALS = ["<|endoftext|>", "<|pad|>"]
TRICKY = [
    "", " ", "  ", "\n", "\r\n\r\n", "\t\t x \t", "   leading and trailing   ", "a  b   c    d",
    "naïve café déjà vu", "Ünïcödé ÅÄÖ ñ", "日本語のテキスト、中文文本。한국어", "emoji 🎉🎉 👩‍👩‍👧‍👦 🇫🇷 ✔️",
    "it's we'll they're I'M she'd you've", "x = 1_000_000 + 3.14e-10; y=-0x1F", "\u00a0\u2003\u3000 odd spaces\u200b",
    "\x1c\x1d\x1e\x1f file separators \x00 nul", "<|endoftext|>", "a<|endoftext|>b<|pad|><|endoftext|>",
    "<|endoftext|  <|pad", "def f(x):\n    return x ** 2  # square\n", "ÿþ\U0010ffff\ue000 private use",
]


@pytest.fixture(scope="module")
def tiktoken():
    return require_module("tiktoken")


@pytest.fixture(scope="module")
def docs():
    return load_python_docs()


@pytest.fixture(scope="module")
def docs_bpe(docs):
    """The vocabulary of the bench: 4,000 tokens learned from the whole docs, with special tokens."""
    return BPETokenizer.train(docs, 4000, special_tokens=SPECIALS)


@pytest.fixture(scope="module")
def docs_twin(tiktoken, docs_bpe):
    """tiktoken's Encoding with the vocabulary, pattern and special tokens of ``docs_bpe``."""
    tok = docs_bpe
    return tiktoken.Encoding("tinytorch", pat_str=tok.pattern, special_tokens=tok.special_ids,
                             mergeable_ranks={tok.vocab[i]: i for i in range(256 + len(tok.merges))})


def naive_steps(counts):
    """BPE by definition, one merge per step: recount every pair, merge the most frequent (ties: the
    greatest pair). Yields the merged pair and the pair counts it was chosen from."""
    words = {tuple(bytes([b]) for b in w): n for w, n in counts.items()}
    while True:
        pairs = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            return
        best = max(pairs, key=lambda p: (pairs[p], p))
        yield best, pairs
        merged = {}
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if word[i:i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = n
        words = merged


def naive_merges(counts, num_merges):
    return [best for best, _ in itertools.islice(naive_steps(counts), num_merges)]


# ----- tiktoken parity ------------------------------------------------------------------------
def test_ids_match_tiktoken_on_the_whole_corpus(docs, docs_bpe, docs_twin):
    ids = docs_bpe.encode(docs)
    assert ids == docs_twin.encode(docs, allowed_special="all")
    assert docs_bpe.decode(ids) == docs
    assert len(ids) < len(docs) / 3.5, f"4,000 tokens compress the docs to {len(docs) / len(ids):.2f} characters per token"


@pytest.mark.parametrize("text", TRICKY)
def test_ids_match_tiktoken_on_tricky_strings(docs_bpe, docs_twin, text):
    assert docs_bpe.encode(text) == docs_twin.encode(text, allowed_special="all")
    assert docs_bpe.decode(docs_bpe.encode(text)) == text


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=60))
def test_ids_match_tiktoken_on_any_string(docs_bpe, docs_twin, text):
    assert docs_bpe.encode(text) == docs_twin.encode(text, allowed_special="all")


def test_ids_match_tiktoken_on_recombined_words(docs, docs_bpe, docs_twin):
    """Words of the corpus glued to suffixes they were not seen with: encodings training never made."""
    rng, words = random.Random(0), docs.split()
    text = " ".join(rng.choice(words) + rng.choice(["", "s", "ing", "é", "日本", "🎉", "'ll", "42"]) for _ in range(3000))
    assert docs_bpe.encode(text) == docs_twin.encode(text, allowed_special="all")


# ----- round trips ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_bpe_round_trip_on_any_string(docs_bpe, text):
    assert docs_bpe.decode(docs_bpe.encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(train=st.text(min_size=1, max_size=300), text=st.text(max_size=100), extra=st.integers(0, 60),
       special=st.sampled_from(["", "<s>", "\n\n", "🎉"]))
def test_bpe_trained_on_any_text_round_trips_any_text(train, text, extra, special):
    specials = [special] if special else []
    tok = BPETokenizer.train(train + special + train, 256 + len(specials) + extra, special_tokens=specials)
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode(special + text + special)) == special + text + special


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_char_round_trip_on_any_string(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert tok.decode(ids) == text and len(ids) == len(text)
    assert sorted(set(ids)) == list(range(tok.vocab_size))


def test_char_tokenizer_ids_follow_code_points():
    tok = CharTokenizer.from_text("hello world")
    assert tok.vocab_size == 8 and tok.encode("hello") == [3, 2, 4, 4, 5] and tok.decode([7, 5, 6, 4, 1]) == "world"


# ----- merges: order and tie-break --------------------------------------------------------------
def test_merges_of_the_hand_checked_example():
    # Sennrich et al. (2016): es and st tie at 9, (s, t) is the greater pair; o w and l o tie at 7.
    counts = Counter({b"low": 5, b"lower": 2, b"newest": 6, b"widest": 3})
    got = [b" ".join(pair).decode() for pair in learn_merges(counts, 12)]
    assert got == ["s t", "e st", "o w", "l ow", "w est", "n e", "ne west", "w i", "wi d", "wid est", "low e", "lowe r"]


def test_tie_between_a_pair_and_its_extension_goes_to_the_longer_token():
    # after (b, c), both (a, bc) and (a, b) occur once: b"bc" > b"b", so (a, bc) comes first
    assert learn_merges(Counter({b"bc": 2, b"abc": 1, b"ab": 1}), 5) == [(b"b", b"c"), (b"a", b"bc"), (b"a", b"b")]


counts_strategy = st.dictionaries(st.binary(min_size=1, max_size=8).map(lambda b: bytes(x % 5 + 97 for x in b)),
                                  st.integers(1, 6), max_size=25)


@settings(max_examples=200, deadline=None)
@given(counts=counts_strategy, num_merges=st.integers(0, 40))
def test_incremental_training_equals_the_definition(counts, num_merges):
    assert learn_merges(Counter(counts), num_merges) == naive_merges(Counter(counts), num_merges)


def test_incremental_training_equals_the_definition_on_the_corpus(docs):
    counts = count_pretokens(docs[:40_000])
    assert learn_merges(counts, 200) == naive_merges(counts, 200)


def test_training_is_deterministic_whatever_the_order_of_the_counts(docs):
    counts = count_pretokens(docs[:50_000])
    shuffled = list(counts.items())
    random.Random(1).shuffle(shuffled)
    assert learn_merges(counts, 300) == learn_merges(Counter(dict(shuffled)), 300)


def test_merges_never_cross_a_pretoken(docs, docs_bpe):
    pretokens = b"\x00".join(count_pretokens(docs))  # NUL occurs nowhere in the docs
    assert docs.count("\x00") == 0
    outside = [a + b for a, b in docs_bpe.merges if a + b not in pretokens]
    assert not outside, f"tokens that are not inside one pre-token: {outside[:5]}"



def _gpt2_byte_decoder():
    """GPT-2's byte-level alphabet: the printable character that stands for each byte -> the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {chr(c): b for c, b in zip(printable + [256 + i for i in range(len(others))], printable + others)}


def test_merges_match_huggingface_tokenizers_until_the_first_tie(docs):
    """Hugging Face breaks ties by its own token ids, not by the bytes: the two agree up to the first tie."""
    tokenizers = require_module("tokenizers")
    text, num_merges = docs[:100_000], 300
    counts = count_pretokens(text)
    ours = learn_merges(counts, num_merges)
    untied = 0
    for _, pairs in naive_steps(counts):
        (_, first), (_, second) = pairs.most_common(2)
        if first == second or untied == num_merges:
            break
        untied += 1
    hf = tokenizers.Tokenizer(tokenizers.models.BPE())
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.train_from_iterator([text], tokenizers.trainers.BpeTrainer(
        vocab_size=256 + num_merges, show_progress=False, initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()))
    decode = _gpt2_byte_decoder()
    theirs = [tuple(bytes(decode[c] for c in token) for token in (m.split(" ") if isinstance(m, str) else m))
              for m in json.loads(hf.to_str())["model"]["merges"]]
    assert untied >= 50, f"only {untied} merges before the first tie: the comparison says little"
    assert theirs[:untied] == ours[:untied]

# ----- vocabulary layout and special tokens ---------------------------------------------------------
def test_vocabulary_layout(docs_bpe):
    tok = docs_bpe
    assert tok.vocab_size == 4000 == len(tok.vocab) and len(tok.merges) == 4000 - 256 - len(SPECIALS)
    assert [tok.vocab[i] for i in range(256)] == [bytes([i]) for i in range(256)]
    assert all(tok.vocab[256 + i] == a + b for i, (a, b) in enumerate(tok.merges))
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in tok.merges)
    assert tok.special_ids == {"<|endoftext|>": 3998, "<|pad|>": 3999}
    assert [tok.vocab[3998], tok.vocab[3999]] == [b"<|endoftext|>", b"<|pad|>"]
    assert len(set(tok.vocab.values())) == tok.vocab_size


def test_special_tokens_are_never_split_nor_learned():
    specials = ["<|end|>", "<|endoftext|>"]
    tok = BPETokenizer.train(("hello world " * 20 + "<|endoftext|><|end|>") * 3, 300, special_tokens=specials)
    end, eot = tok.special_ids["<|end|>"], tok.special_ids["<|endoftext|>"]
    assert tok.encode("<|end|><|endoftext|>") == [end, eot]
    assert tok.encode("hello<|end|> world") == tok.encode("hello") + [end] + tok.encode(" world")
    assert not set(tok.encode("<|end <|endoftext|")) & {end, eot}, "a partial special token is plain text"
    assert all(b"<|" not in a + b and b"|>" not in a + b for a, b in tok.merges), "special tokens are not training text"


def test_the_longest_special_token_wins():
    tok = BPETokenizer([], special_tokens=["<s>", "<s>!"])
    assert tok.encode("<s>!<s>") == [tok.special_ids["<s>!"], tok.special_ids["<s>"]] == [257, 256]


def test_training_on_a_short_text_stops_when_the_pairs_run_out():
    tok = BPETokenizer.train("abab", 1000)
    assert tok.merges == [(b"a", b"b"), (b"ab", b"ab")] and tok.vocab_size == 258


# ----- save and load --------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path, docs_bpe, docs):
    path = tmp_path / "bpe.json"
    docs_bpe.save(path)
    state = json.loads(path.read_text(encoding="utf-8"))
    assert state["format"] == "tinytorch-bpe" and state["version"] == 1 and state["pattern"] == GPT2_PATTERN
    assert state["special_tokens"] == SPECIALS and state["merges"][0] == " ".join(t.hex() for t in docs_bpe.merges[0])
    loaded = BPETokenizer.load(path)
    assert loaded.merges == docs_bpe.merges and loaded.vocab == docs_bpe.vocab and loaded.special_ids == docs_bpe.special_ids
    sample = docs[:20_000] + "<|endoftext|> 🎉"
    assert loaded.encode(sample) == docs_bpe.encode(sample)


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": "tinytorch-bpe", "version": 2, "merges": []}',
                                     '{"format": "pickle", "version": 1}'])
def test_load_rejects_other_files(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="bad.json"):
        BPETokenizer.load(path)


# ----- errors -------------------------------------------------------------------------------------
def test_unknown_character_is_named():
    with pytest.raises(ValueError, match=r"'€' \(U\+20AC\) at position 3 .* 4 characters"):
        CharTokenizer.from_text("abcd").encode("abc€")


@pytest.mark.parametrize("bad", [4, -1, "a"])
def test_unknown_character_ids_are_named(bad):
    with pytest.raises(ValueError, match=f"id {bad!r} is not in 0..3"):
        CharTokenizer.from_text("abcd").decode([0, bad])


@pytest.mark.parametrize("bad", [257, -1, "a"])
def test_unknown_bpe_ids_are_named(bad):
    with pytest.raises(ValueError, match=f"id {bad!r} is not in 0..256"):
        BPETokenizer([(b"a", b"b")]).decode([97, bad])


@pytest.mark.parametrize("vocab_size, specials, match", [
    (255, (), r"at least 256 bytes \+ 0 special tokens = 256, got 255"),
    (257, ["<a>", "<b>"], r"= 258, got 257"),
    (300.0, (), "got 300.0"),
])
def test_vocab_size_too_small_is_an_error(vocab_size, specials, match):
    with pytest.raises(ValueError, match=match):
        BPETokenizer.train("some text", vocab_size, special_tokens=specials)


def test_bad_arguments_are_errors():
    with pytest.raises(TypeError, match="bytes"):
        BPETokenizer.train(b"bytes", 300)
    with pytest.raises(ValueError, match="distinct non-empty"):
        BPETokenizer([], special_tokens=["<s>", "<s>"])
    with pytest.raises(ValueError, match="distinct non-empty"):
        BPETokenizer([], special_tokens=[""])
    with pytest.raises(ValueError, match="merge 1 .* no earlier merge"):
        BPETokenizer([(b"a", b"b"), (b"abc", b"d")])
    with pytest.raises(ValueError, match="already a token"):
        BPETokenizer([(b"a", b"b"), (b"a", b"b")])
    with pytest.raises(ValueError, match="lone surrogate"):
        BPETokenizer([]).encode("a\ud800")


# ----- the benchmark script -----------------------------------------------------------------------
BENCH = Path(__file__).resolve().parents[1] / "bench" / "tokenizer.py"


def test_benchmark_has_help():
    out = subprocess.run([sys.executable, BENCH, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr


@pytest.mark.slow
def test_benchmark_prints_ratios_and_checks_the_ids(tiktoken):
    require_module("tokenizers")
    out = subprocess.run([sys.executable, BENCH, "--repeat", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("identical ids") == 2 and out.stdout.count("target: at most") == 2, out.stdout
    assert "tinytorch / tokenizers:" in out.stdout and out.stdout.count("tinytorch / tiktoken:") == 2, out.stdout
