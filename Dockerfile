# Slim image: the bot and the model service's openai backend.
#   docker build -t turtle-soup .
# Local-model image (adds torch + transformers for the chatglm backend):
#   docker build --target local -t turtle-soup:local .
# Browser-page image (adds Gradio for python -m bot.web):
#   docker build --target web -t turtle-soup:web .
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --create-home --uid 10001 soup && mkdir -p /models && chown soup /models
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY model_service ./model_service
COPY common ./common
RUN pip install .
COPY config.example.yaml /app/config.yaml
USER soup
EXPOSE 8000
# Which process to run is the compose service's command: `python -m bot` or `python -m model_service`.
CMD ["python", "-m", "bot", "--config", "/app/config.yaml"]

FROM base AS local
USER root
# CPU wheels by default; pass --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 for CUDA.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX" "torch==2.13.0" && pip install ".[local]"
# gcc builds the int4 CPU kernel (int4_gemv.c) for the machine the container runs on, at first load.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
USER soup
ENV HF_HOME=/models/hf

FROM base AS web
# The browser page (python -m bot.web): the slim image plus Gradio.
#   docker build --target web -t turtle-soup:web .
USER root
RUN pip install ".[web]"
USER soup
EXPOSE 7860
CMD ["python", "-m", "bot.web", "--config", "/app/config.yaml"]

FROM base AS slim
