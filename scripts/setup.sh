#!/usr/bin/env bash
# Install and start what the service and its tests need; safe to run again.
#
#   scripts/setup.sh
#
# - Debian packages, only those missing: docker.io (when no Docker engine answers),
#   redis-server, docker-compose, and debootstrap (only when a base image must be made).
# - dockerd is started in the background when no engine answers.
# - Python packages go into ./.venv (never system-wide); reinstalled when pyproject.toml
#   changes.
# - The sandbox image is built (a no-op when its content version already exists).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
    [ "$#" -gt 0 ] || return 0
    log "installing Debian packages: $*"
    if [ "$(id -u)" != 0 ]; then log "need root to install $* (or install them yourself)"; exit 1; fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null  # as the known-good manual install
}

docker_up() { timeout 10 docker info >/dev/null 2>&1; }

ensure_system() {
    local missing=()
    if ! docker_up; then
        command -v dockerd >/dev/null || missing+=(docker.io)
    fi
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
    apt_install "${missing[@]}"
    if ! docker_up; then
        log "starting dockerd"
        (setsid nohup dockerd >/var/log/utrs-dockerd.log 2>&1 &)
        for _ in $(seq 1 60); do docker_up && break; sleep 1; done
        docker_up || { log "dockerd did not come up; see /var/log/utrs-dockerd.log"; exit 1; }
    fi
}

ensure_venv() {
    local stamp=.venv/.utrs-installed want
    want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
    [ -x .venv/bin/python ] || python3 -m venv .venv
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
    log "installing Python packages into .venv (torch CPU wheel, DeepSpeed, the project)"
    local pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
    "${pip[@]}" --upgrade pip setuptools wheel >/dev/null
    # torch first: this exact version is a local CPU wheel; other spellings pull CUDA.
    "${pip[@]}" torch==2.13.0
    DS_BUILD_OPS=0 "${pip[@]}" --no-build-isolation deepspeed einops
    "${pip[@]}" -e '.[service,dev,trainer]'
    echo "$want" >"$stamp"
}

ensure_image() {
    if ! docker image inspect python:3.11-slim-bookworm >/dev/null 2>&1 \
        && ! docker image inspect utrs-base:bookworm-py3 >/dev/null 2>&1; then
        command -v debootstrap >/dev/null || apt_install debootstrap
    fi
    bash sandbox_images/build.sh
}

ensure_system
ensure_venv
ensure_image
log "ready: docker $(docker version -f '{{.Server.Version}}'), $(redis-server --version | cut -d' ' -f3), $(.venv/bin/python --version)"
