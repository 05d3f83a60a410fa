# syntax=docker/dockerfile:1
# GasGuard service image: `gasguard serve` (--role all|worker|web) on PostgreSQL and an MQTT broker.
# Two stages: the wheel is built with the build front-end in the first; the runtime image gets only
# the installed package with the postgres extra (no compilers, no torch: `train` is not installed).
# Not built on the development machine (it has no container engine); linted by hadolint in the tests.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir build==1.2.2 \
 && python -m build --wheel --outdir /wheels

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GASGUARD_DATA_DIR=/var/lib/gasguard
COPY --from=build /wheels /wheels
# Only the wheel and its binary dependencies (psycopg[binary] for PostgreSQL); nothing is compiled here.
# DL3013: the versions are pinned by the wheel's own metadata (pyproject.toml); the wheel is a local file.
# hadolint ignore=DL3013
RUN set -eux; \
    whl="$(find /wheels -name 'gasguard-*.whl')"; \
    pip install --no-cache-dir --only-binary=:all: "${whl}[postgres]"; \
    rm -rf /wheels; \
    groupadd --system --gid 10001 gasguard; \
    useradd --system --uid 10001 --gid gasguard --home-dir /var/lib/gasguard --create-home --shell /usr/sbin/nologin gasguard
USER 10001:10001
WORKDIR /var/lib/gasguard
EXPOSE 8000
# Liveness only (the process answers HTTP); readiness and component health are /api/v1/health.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/live', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["gasguard"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
