"""Loading speed of the datasets on disk: Fashion-MNIST from its gzip files into float32 arrays.

    .venv/bin/python bench/datasets.py [--repeat 5]

Prints the median and best seconds of `tinytorch.datasets.load_fashion_mnist(download=False)` over
the rounds, against the target of 2 seconds (70,000 images decompressed and scaled). Prints only;
never fails on time.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinytorch import datasets  # noqa: E402
from tinytorch.perf import percentile, timed  # noqa: E402

TARGET_SECONDS = 2.0


def main():
    head, _, rest = __doc__.partition("\n\n")
    p = argparse.ArgumentParser(description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    args = p.parse_args()
    if datasets.find_files("fashion-mnist") is None:
        print("Fashion-MNIST is not on disk (apt-get install dataset-fashion-mnist); nothing to time")
        return
    runs = [timed(lambda: datasets.load_fashion_mnist(download=False)) for _ in range(args.repeat)]
    median = percentile(runs, 50)
    print(f"load_fashion_mnist: median {median:.2f} s, best {min(runs):.2f} s over {len(runs)} rounds")
    print(f"  target: at most {TARGET_SECONDS} s -> {median:.2f} s, {'met' if median <= TARGET_SECONDS else 'missed'}")


if __name__ == "__main__":
    main()
