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
# The whole suite runs in two worker processes (TEST_WORKERS to change), a test file each at a time: much of
# it waits on real I/O (Redis, HTTP, subprocesses), so two overlap well even on two cores. Named tests run in one.
if [ $# -eq 0 ]; then
  .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile
else
  .venv/bin/python -m pytest "$@"
fi
# The whole suite used int4_gemv.c where this CPU runs it; CPUs without AVX-512 VNNI run torch's int4
# kernel instead, so the ChatGLM tests run once more with the native kernel switched off (about a minute).
if [ $# -eq 0 ]; then
  echo "==> pytest, ChatGLM on torch's int4 kernel (CHATGLM_NATIVE_KERNEL=0)"
  CHATGLM_NATIVE_KERNEL=0 exec .venv/bin/python -m pytest -q tests/model_service/test_chatglm6b_model.py \
    tests/model_service/test_chatglm6b_service.py tests/model_service/test_int4_gemv.py
fi
