"""`python -m llama_cpp.server` with llama.cpp's weight repacking ("extra buffer types") switched off.

On Intel CPUs with AMX, llama.cpp repacks quantized weights for its AMX matmul; in llama-cpp-python
0.3.36, built from source with the machine's own instruction set, that matmul crashed the server
(SIGSEGV in ggml_backend_amx_mul_mat) on every prompt of more than one token, on a Sapphire Rapids VM.
The plain CPU kernels run the same model on every x86-64 CPU, and these tests need a server that
answers, not the fastest one. The server's command line has no switch for this, so the model's
default parameters are changed before the server's own main runs.
"""

from __future__ import annotations

import runpy

import llama_cpp.llama_cpp as bindings  # the module the Llama class reads its defaults from

_default_params = bindings.llama_model_default_params


def _params_without_repacking() -> bindings.llama_model_params:
    params = _default_params()
    params.use_extra_bufts = False
    return params


if __name__ == "__main__":
    bindings.llama_model_default_params = _params_without_repacking
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
