#!/usr/bin/env bash
# Create .venv and install the project with the given extras, once per change of pyproject.toml.
set -euo pipefail
extras="${1:-}"
python="${PYTHON:-python3}"
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
# An install with more extras serves a command that needs fewer.
for other in .venv/.installed*; do
  if [ -f "$other" ] && [ ! pyproject.toml -nt "$other" ] && [[ ",${other#.venv/.installed-}," == *",${extras:-_},"* || -z "$extras" ]]; then
    stamp="$other"
  fi
done
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing the project${extras:+ with [$extras]} (first run takes a minute)"
  if [[ "$extras" == *local* ]]; then
    # torch first, pinned, so pip takes the CPU build on disk instead of a multi-GB CUDA one.
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
  fi
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
