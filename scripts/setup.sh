#!/usr/bin/env bash
# Set up a fresh machine for the course: system packages (when run as root on Debian), then
# a virtual environment in .venv with tinytorch installed in editable mode and all extras.
set -euo pipefail
cd "$(dirname "$0")/.."

system_packages=(chromium fonts-noto-color-emoji dataset-fashion-mnist bubblewrap)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in "${system_packages[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
else
    echo "note: not root on Debian; install these yourself for the browser test, Fashion-MNIST and the grading sandbox:" \
         "${system_packages[*]}" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c requirements/constraints.txt -e ".[course,dev]"
