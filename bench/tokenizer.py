"""Benchmarks of tinytorch's BPE tokenizer against the Rust tokenizers, in one process, on one thread.

Workloads, on the Python documentation topics (tinytorch.datasets.load_python_docs, 465,000 characters):
  train    learn a byte-level BPE vocabulary of 4,000 tokens (3,744 merges): BPETokenizer.train
           against Hugging Face tokenizers (BpeTrainer, ByteLevel pre-tokenizer)
  encode   encode the whole text with a fresh tokenizer (empty cache) built from the same merges,
           against tiktoken.Encoding built from the same vocabulary; the ids must be identical
  encode-warm  the same, with tinytorch's pre-token cache already filled by an earlier encode

The Rust libraries run on one thread (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false). The
contenders run in interleaved rounds; times are the median and best round, ratios the median of
the rounds' ratios (tinytorch time / other time). Prints, never fails on time.
Run: .venv/bin/python bench/tokenizer.py [--repeat N] [--only train encode encode-warm]
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before the Rust libraries start their thread pools
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from common import in_turns, parser, report  # noqa: E402

WORKLOADS = ("train", "encode", "encode-warm")
TARGETS = {"train": ("tokenizers", 10), "encode": ("tiktoken", 20)}  # tinytorch time / other time, at most
VOCAB_SIZE = 4000
SPECIALS = ["<|endoftext|>"]


def bench_train(text, repeat):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from tinytorch.text import BPETokenizer

    def huggingface():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator([text], trainer=trainer)
        return tok

    sizes = {}
    times = in_turns(repeat, {
        "tinytorch": lambda: sizes.__setitem__("tinytorch", BPETokenizer.train(text, VOCAB_SIZE, SPECIALS).vocab_size),
        "tokenizers": lambda: sizes.__setitem__("tokenizers", huggingface().get_vocab_size()),
    })
    return times, f"vocabulary of {VOCAB_SIZE:,} on {len(text):,} characters (tinytorch {sizes['tinytorch']:,} " \
                  f"tokens, tokenizers {sizes['tokenizers']:,})"


def bench_encode(text, repeat, warm):
    import tiktoken

    from tinytorch.text import BPETokenizer

    trained = BPETokenizer.train(text, VOCAB_SIZE, SPECIALS)
    reference = tiktoken.Encoding("tinytorch", pat_str=trained.pattern, special_tokens=trained.special_ids,
                                  mergeable_ranks={trained.vocab[i]: i for i in range(256 + len(trained.merges))})
    ids = {}

    def ours():
        tok = trained if warm else BPETokenizer(trained.merges, trained.special_tokens, trained.pattern)
        ids["tinytorch"] = tok.encode(text)

    def theirs():
        ids["tiktoken"] = reference.encode(text, allowed_special="all")

    times = in_turns(repeat, {"tinytorch": ours, "tiktoken": theirs})
    same = "identical ids" if ids["tinytorch"] == ids["tiktoken"] else "IDS DIFFER"
    cache = "pre-token cache filled" if warm else "fresh tokenizer, empty cache"
    return times, f"{len(text):,} characters -> {len(ids['tiktoken']):,} tokens, {same}; {cache}"


def main(argv=None):
    p = parser(__doc__, WORKLOADS)
    p.add_argument("--repeat", type=int, default=5, help="rounds of each workload (default 5)")
    args = p.parse_args(argv)

    import tiktoken
    import tokenizers

    from tinytorch.datasets import load_python_docs

    print(f"tiktoken {tiktoken.__version__}, tokenizers {tokenizers.__version__}, 1 thread")
    text = load_python_docs()
    benches = {
        "train": lambda: bench_train(text, args.repeat),
        "encode": lambda: bench_encode(text, args.repeat, warm=False),
        "encode-warm": lambda: bench_encode(text, args.repeat, warm=True),
    }
    for name in args.only:
        times, note = benches[name]()
        report(name, note, times, TARGETS.get(name))


if __name__ == "__main__":
    main()
