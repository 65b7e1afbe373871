# syntax=docker/dockerfile:1
# The trainwire collector image: `trainwire collector` with the server extras.
#   build:  docker build -t trainwire:dev .
#   run:    docker run -p 4317:4317 -p 4318:4318 -p 8080:8080 -p 9464:9464 \
#             -v trainwire-data:/var/lib/trainwire trainwire:dev
# It runs a gateway (deploy/docker/collector.yaml, copied to /etc/trainwire/config.yaml):
# OTLP on 4317/4318, the query API and web UI on 8080, Prometheus /metrics on 9464. Mount
# your own config there, or pass `--config /path` (the arguments replace CMD).
ARG PYTHON_VERSION=3.12

# Stage 1: build the wheel and install it, with its server-side extras, into a venv.
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk ./sdk
COPY collector ./collector
COPY exporters ./exporters
COPY proto ./proto
RUN python -m venv /opt/trainwire \
 && /opt/trainwire/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/trainwire/bin/pip install "$(ls /wheels/trainwire-*.whl)[server,prometheus,discord,nvml,host]"

# Stage 2: the venv alone on a slim Python, run by an unprivileged user.
FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="trainwire collector" \
      org.opencontainers.image.description="Experiment tracking for machine learning, built on OpenTelemetry" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 trainwire \
 && useradd --system --uid 10001 --gid trainwire --no-create-home --home-dir /var/lib/trainwire \
      --shell /usr/sbin/nologin trainwire \
 && mkdir -p /var/lib/trainwire \
 && chown trainwire:trainwire /var/lib/trainwire
COPY --from=build /opt/trainwire /opt/trainwire
COPY deploy/docker/collector.yaml /etc/trainwire/config.yaml
# What the config reads: listen on every interface inside the container, keep state on the
# data volume. PYTHONDONTWRITEBYTECODE: the root filesystem may be read-only (the Helm
# chart makes it so).
ENV PATH=/opt/trainwire/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRAINWIRE_DATA_DIR=/var/lib/trainwire \
    TRAINWIRE_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    TRAINWIRE_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    TRAINWIRE_API_ENDPOINT=0.0.0.0:8080 \
    TRAINWIRE_PROMETHEUS_ENDPOINT=0.0.0.0:9464 \
    TRAINWIRE_HEALTH_ENDPOINT=0.0.0.0:13133 \
    TRAINWIRE_TELEMETRY_ENDPOINT=0.0.0.0:8888
VOLUME ["/var/lib/trainwire"]
WORKDIR /var/lib/trainwire
USER 10001:10001
# OTLP gRPC, OTLP HTTP, query API and web UI, Prometheus, health check, self-telemetry.
EXPOSE 4317 4318 8080 9464 13133 8888
# No curl in the image: the check is Python's urllib against the health_check extension.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; port = os.environ['TRAINWIRE_HEALTH_ENDPOINT'].rsplit(':', 1)[1]; u.urlopen(f'http://127.0.0.1:{port}/', timeout=4)"]
# SIGTERM stops the receivers, drains the exporters and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["trainwire", "collector"]
CMD ["--config", "/etc/trainwire/config.yaml"]
