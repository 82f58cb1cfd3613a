# syntax=docker/dockerfile:1
# Multi-stage image of the recommendation service: wheels are built with a compiler in the
# first stage (rectools-lightfm compiles from source), the runtime stage has no compiler and
# runs as a non-root user.

FROM python:3.11-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY recommender ./recommender
COPY training ./training
COPY serving ./serving
COPY feature_store ./feature_store
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
# libgomp1: OpenMP runtime used by implicit and lightfm.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin recsys
COPY --from=build /wheels /wheels
# Only the wheels built above are installed (--no-index), so versions are fixed by stage one.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links=/wheels recsys-offers \
    && rm -rf /wheels
ENV RECSYS_DATA_DIR=/data \
    RECSYS_HOST=0.0.0.0 \
    RECSYS_PORT=8000 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    OPENBLAS_NUM_THREADS=1
RUN mkdir -p /data && chown 10001:10001 /data
USER 10001
WORKDIR /home/recsys
# Compile the ranking kernels into numba's cache now, so a container does not spend its start
# compiling them (a CPU other than the build machine's misses the cache and compiles once).
RUN python -c "from recommender.ranking import warm_up; warm_up()"
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["recsys"]
CMD ["serve", "--workers", "2"]
