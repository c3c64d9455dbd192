#!/usr/bin/env bash
# The whole test suite: installs what it needs (redis-server, the venv), lints, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests need: a real redis-server, the Chromium the browser tests drive
# (Playwright is pointed at it; it never downloads a browser of its own), and a C compiler.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# A C compiler: the int4 ChatGLM kernel (model_service/backends/chatglm6b/int4_gemv.c) is built on first use;
# a C++ one and CMake: pip builds llama-cpp-python (the tests' real model server) from source.
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (Debian packages)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
./scripts/venv.sh "dev,local,web"
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> pytest (the tests start their own redis-server on a free port)"
exec .venv/bin/python -m pytest "$@"
