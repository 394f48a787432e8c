# The image deploy/kubernetes/ runs (named ops-toolkit there): ops installed, and this
# repository's runbooks, SLOs and rule files under /srv/ops, the containers' working
# directory. Build from the repository's root (README, "Running in production"):
#   docker build -t registry.example.com/ops-toolkit:latest .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# What the runbooks' steps call beyond a slim Debian's base (bash, coreutils, grep, sed):
# curl, and kubectl (pinned, its checksum verified), so ops serve's unattended diagnose
# steps run in this image as they do on an engineer's machine (tests/deploy checks it).
ARG KUBECTL_VERSION=v1.31.3
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && arch="$(dpkg --print-architecture)" \
    && curl -fsSLo /usr/local/bin/kubectl \
       "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${arch}/kubectl" \
    && echo "$(curl -fsSL "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${arch}/kubectl.sha256")  /usr/local/bin/kubectl" \
       | sha256sum --check --strict - \
    && chmod 0755 /usr/local/bin/kubectl

# ops itself: only what 'pip install .' reads, so a change to a runbook rebuilds one layer
WORKDIR /build
COPY pyproject.toml README.md ./
COPY ops_toolkit/ ops_toolkit/
RUN pip install . && rm -rf /build

# The user the manifests run as (runAsUser/runAsGroup 10001); it owns nothing it could change
RUN groupadd --system --gid 10001 ops \
    && useradd --system --uid 10001 --gid ops --no-create-home --home-dir /srv/ops \
       --shell /usr/sbin/nologin ops

WORKDIR /srv/ops
COPY runbooks/ runbooks/
COPY slos/ slos/
COPY alerts/ alerts/

USER 10001:10001
EXPOSE 9095
ENTRYPOINT ["ops"]
CMD ["--help"]
