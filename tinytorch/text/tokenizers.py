# Generated from source/10_tokenization/10_tokenization.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Tokenizers: one token per character, and byte-level BPE with GPT-2's pre-tokenization."""
import heapq
import json
from collections import Counter, defaultdict
from pathlib import Path

import regex


class CharTokenizer:
    """One id per character of a fixed alphabet; ``vocab`` maps ids to characters."""

    def __init__(self, chars):
        self.vocab = dict(enumerate(chars))
        self._ids = {c: i for i, c in self.vocab.items()}
        if len(self._ids) != len(self.vocab) or not all(isinstance(c, str) and len(c) == 1 for c in self._ids):
            raise ValueError(f"CharTokenizer: expected distinct single characters, got {list(chars)!r}")

    @property
    def vocab_size(self):
        return len(self.vocab)

    @classmethod
    def from_text(cls, text):
        """The tokenizer of the distinct characters of ``text``, in code-point order."""
        return cls(sorted(set(text)))

    def encode(self, text):
        """The ids of the characters of ``text``."""
        try:
            return [self._ids[c] for c in text]
        except KeyError as err:
            c = err.args[0]
            raise ValueError(f"CharTokenizer.encode: character {c!r} (U+{ord(c):04X}) at position {text.index(c)} "
                             f"is not in the vocabulary of {self.vocab_size} characters") from None

    def decode(self, ids):
        """The text of the ids ``ids``."""
        try:
            return "".join([self.vocab[i] for i in ids])
        except KeyError as err:
            raise ValueError(f"CharTokenizer.decode: id {err.args[0]!r} is not in 0..{self.vocab_size - 1}") from None

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size})"


GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def split_specials(text, special_tokens):
    """``text`` cut around the ``special_tokens`` it contains: [text, special, text, ..., text]."""
    if not special_tokens:
        return [text]
    alternatives = "|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True))
    return regex.split(f"({alternatives})", text)


def count_pretokens(text, special_tokens=(), pattern=GPT2_PATTERN):
    """How often each pre-token of ``text`` occurs, as a Counter of UTF-8 bytes; special tokens left out."""
    counts = Counter()
    for piece in split_specials(text, special_tokens)[::2]:
        counts.update(regex.findall(pattern, piece))
    return Counter({word.encode("utf-8"): n for word, n in counts.items()})


def merge_word(word, pair, new):
    """``word`` (a sequence of tokens) with each occurrence of ``pair`` replaced by ``new``, left to right."""
    a, b = pair
    out, i, n = [], 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _descending(token):
    """A sort key that orders byte strings backwards (255 - byte, then 256 so a prefix sorts last)."""
    return tuple(255 - x for x in token) + (256,)


def learn_merges(counts, num_merges):
    """The first ``num_merges`` BPE merges of the pre-tokens ``counts`` (bytes -> count), in order.

    Each merge joins the most frequent adjacent pair of tokens; ties go to the greater pair of
    byte strings. Stops early when no pair is left.
    """
    words = [tuple(bytes([b]) for b in word) for word in counts]
    freqs = list(counts.values())
    merges = []
    pair_counts, where, keys = Counter(), defaultdict(set), {}
    for i, (word, n) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += n
            where[pair].add(i)

    def entry(pair, count):
        for token in pair:
            if token not in keys:
                keys[token] = _descending(token)
        return (-count, keys[pair[0]], keys[pair[1]], *pair)

    heap = [entry(pair, count) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    while heap and len(merges) < num_merges:
        neg_count, _, _, a, b = heapq.heappop(heap)
        if pair_counts.get((a, b)) != -neg_count:
            continue  # stale: the count changed after this entry was pushed
        merges.append((a, b))
        changed = set()
        for i in where.pop((a, b)):
            old = words[i]
            new = merge_word(old, (a, b), a + b)
            if len(new) == len(old):
                continue  # this pre-token lost the pair in an earlier merge
            n = freqs[i]
            for pair in zip(old, old[1:]):
                pair_counts[pair] -= n
                changed.add(pair)
            for pair in zip(new, new[1:]):
                pair_counts[pair] += n
                where[pair].add(i)
                changed.add(pair)
            words[i] = new
        for pair in changed:
            if pair_counts[pair] > 0:
                heapq.heappush(heap, entry(pair, pair_counts[pair]))
            else:
                del pair_counts[pair]
    return merges


FORMAT, VERSION = "tinytorch-bpe", 1


def _check_specials(special_tokens):
    special_tokens = list(special_tokens)
    if len(set(special_tokens)) != len(special_tokens) or not all(isinstance(s, str) and s for s in special_tokens):
        raise ValueError(f"BPETokenizer: special tokens must be distinct non-empty strings, got {special_tokens!r}")
    return special_tokens


class BPETokenizer:
    """Byte-level BPE: ids 0-255 are the bytes, 256 + i is merge i, the special tokens come last."""

    def __init__(self, merges, special_tokens=(), pattern=GPT2_PATTERN):
        self.merges = [(bytes(a), bytes(b)) for a, b in merges]
        self.special_tokens = _check_specials(special_tokens)
        self.pattern = pattern
        self.vocab = {i: bytes([i]) for i in range(256)}
        self._ids = {token: i for i, token in self.vocab.items()}
        self._ranks = {}
        for rank, (a, b) in enumerate(self.merges):
            if a not in self._ids or b not in self._ids:
                raise ValueError(f"BPETokenizer: merge {rank} {(a, b)!r} uses a token that no earlier merge made")
            if a + b in self._ids:
                raise ValueError(f"BPETokenizer: merge {rank} {(a, b)!r} makes {a + b!r}, which is already a token")
            self._ranks[a, b] = rank
            self.vocab[256 + rank], self._ids[a + b] = a + b, 256 + rank
        self.special_ids = {s: len(self.vocab) + i for i, s in enumerate(self.special_tokens)}
        self.vocab.update({i: s.encode("utf-8") for s, i in self.special_ids.items()})
        self._regex = regex.compile(pattern)
        self._cache = {}

    @property
    def vocab_size(self):
        return len(self.vocab)

    @classmethod
    def train(cls, text, vocab_size, special_tokens=(), pattern=GPT2_PATTERN):
        """Learn a vocabulary of ``vocab_size`` tokens from ``text`` (smaller if the text runs out of pairs)."""
        special_tokens = _check_specials(special_tokens)
        smallest = 256 + len(special_tokens)
        if not isinstance(text, str):
            raise TypeError(f"BPETokenizer.train: expected text as a str, got {type(text).__name__}")
        if not isinstance(vocab_size, int) or vocab_size < smallest:
            raise ValueError(f"BPETokenizer.train: vocab_size must be an int of at least 256 bytes + "
                             f"{len(special_tokens)} special tokens = {smallest}, got {vocab_size!r}")
        merges = learn_merges(count_pretokens(text, special_tokens, pattern), vocab_size - smallest)
        return cls(merges, special_tokens, pattern)

    def _encode_pretoken(self, word):
        """The ids of one pre-token ``word`` (bytes), merged by rank; cached."""
        ids = self._cache.get(word)
        if ids is None:
            tokens, ranks = [bytes([b]) for b in word], self._ranks
            while len(tokens) > 1:
                pair = min(zip(tokens, tokens[1:]), key=lambda p: ranks.get(p, len(ranks)))
                if pair not in ranks:
                    break
                tokens = merge_word(tokens, pair, pair[0] + pair[1])
            ids = self._cache[word] = [self._ids[t] for t in tokens]
        return ids

    def encode(self, text):
        """The ids of ``text``; special tokens in it become their own ids."""
        ids = []
        for k, piece in enumerate(split_specials(text, self.special_tokens)):
            if k % 2:
                ids.append(self.special_ids[piece])
                continue
            for pretoken in self._regex.findall(piece):
                try:
                    ids.extend(self._encode_pretoken(pretoken.encode("utf-8")))
                except UnicodeEncodeError as err:
                    raise ValueError(f"BPETokenizer.encode: {pretoken!r} has a character UTF-8 cannot encode "
                                     f"({err.reason}: a lone surrogate)") from None
        return ids

    def decode(self, ids):
        """The text of ``ids``; bytes that are not valid UTF-8 become U+FFFD."""
        try:
            data = b"".join([self.vocab[i] for i in ids])
        except KeyError as err:
            raise ValueError(f"BPETokenizer.decode: id {err.args[0]!r} is not in 0..{self.vocab_size - 1}") from None
        return data.decode("utf-8", errors="replace")

    def save(self, path):
        """Write the tokenizer to ``path`` as JSON (merges in hexadecimal)."""
        state = {"format": FORMAT, "version": VERSION, "pattern": self.pattern, "special_tokens": self.special_tokens,
                 "merges": [f"{a.hex()} {b.hex()}" for a, b in self.merges]}
        Path(path).write_text(json.dumps(state, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path):
        """The tokenizer saved at ``path``."""
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"BPETokenizer.load: {path} is not a JSON file ({err})") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != VERSION:
            raise ValueError(f"BPETokenizer.load: {path} is not a {FORMAT} file of version {VERSION}")
        merges = [tuple(bytes.fromhex(token) for token in merge.split(" ")) for merge in state["merges"]]
        return cls(merges, state["special_tokens"], state["pattern"])

    def __repr__(self):
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={self.special_tokens})")
