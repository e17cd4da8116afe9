# The SDAManager simulator as a container: the project in a venv at /app, so
# that, as in the operator's guide,
#   kubectl exec -it -n maf deploy/sdamanager-api-deployment -- /app/bin/moreh_smclient
# opens the admin shell next to the server.  deploy/kubernetes/ runs it;
# tests/test_deploy_*.py lint this file (hadolint), check it against the
# manifests, and start the server from a venv exactly as CMD below does.

# Build stage: the venv, built from this source tree only.  The dependencies
# and the build backend come from the lock (exact versions, every file's hash:
# `make lock` writes it), then the project itself with nothing more fetched;
# the bytecode is compiled here: the running container may not write any.
FROM python:3.12.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY deploy/requirements.lock ./
RUN python -m venv /app \
    && /app/bin/pip install --no-cache-dir --require-hashes --only-binary :all: -r requirements.lock
COPY pyproject.toml README.md ./
COPY smclient ./smclient
COPY sdamanager_stub ./sdamanager_stub
RUN /app/bin/pip install --no-cache-dir --no-deps --no-build-isolation ./

# Run stage: the same base, the venv copied in, nothing else.
FROM python:3.12.11-slim-bookworm
# A fixed numeric uid and gid, so Kubernetes' runAsNonRoot can check them
# and the manifests' runAsUser/fsGroup name the same ids.
RUN groupadd --system --gid 10001 sdamanager \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin sdamanager \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/sdamanager
COPY --from=build /app /app
# One rule for both programs: the server (sdamanager-stub serve) and the shell
# (moreh_smclient, started by kubectl exec) read the admin secret from the file
# $SDAMANAGER_ADMIN_SECRET_FILE names; the server refuses to start when it is
# missing or empty.  The state lives on the volume.  The root filesystem may
# be read-only: HOME is /tmp (the shell keeps its history there, in a pod an
# emptyDir) and Python writes no bytecode.
ENV PATH=/app/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SDAMANAGER_STATE=/var/lib/sdamanager/state.db
# DL3064 flags every variable named *SECRET*; this one holds a path, not a
# secret (tests/test_deploy_manifests.py keeps this the only ignore, on this line).
# hadolint ignore=DL3064
ENV SDAMANAGER_ADMIN_SECRET_FILE=/etc/sdamanager/admin-secret
VOLUME ["/var/lib/sdamanager"]
USER 10001:10001
WORKDIR /tmp
# 30105: the gRPC API; 9090: Prometheus metrics (/metrics).
EXPOSE 30105 9090
# For plain `docker run` (Kubernetes uses the deployment's gRPC probes instead): the
# standard health service on the API port, exit 0 when it answers SERVING, else 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/bin/sdamanager-stub", "health", "--ip", "127.0.0.1", "--port", "30105", "--timeout", "4"]
CMD ["/app/bin/sdamanager-stub", "serve", "--host", "0.0.0.0", "--port", "30105", "--metrics-port", "9090"]
