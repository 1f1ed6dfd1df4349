#!/usr/bin/env bash
# Bring the whole utrs stack up on this machine and print where the API is.
#
#   scripts/stack.sh            # = up: install/start what is missing, build, start, wait
#   scripts/stack.sh down       # stop and remove the stack (keeps Redis' volume)
#   scripts/stack.sh purge      # ... and its volume
#   scripts/stack.sh status
#
# Environment: UTRS_WORKERS (worker containers, default 2), UTRS_POOL_SIZE (sandbox
# containers per worker, default 1), UTRS_API_PORT (default 8000), UTRS_API_BIND (address
# to publish on, default 127.0.0.1: this machine only), UTRS_API_KEYS (required for any
# other address: the API runs code), COMPOSE_PROJECT_NAME (default utrs), and any UTRS_*
# setting named in docker-compose.yml.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-utrs}
workers=${UTRS_WORKERS:-2}
port=${UTRS_API_PORT:-8000}
official_base=python:3.11-slim-bookworm
official_redis_base=debian:bookworm-slim
local_base=${SANDBOX_LOCAL_BASE:-utrs-base:bookworm-py3}

say() { echo "stack: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_docker() {
    if ! command -v docker >/dev/null; then
        say "installing Docker (Debian's docker.io)"
        as_root apt-get update -qq && as_root apt-get install -y -qq docker.io >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
        say "starting the Docker engine"
        as_root service docker start >/dev/null 2>&1 || (as_root dockerd >/var/log/dockerd.log 2>&1 &)
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        docker info >/dev/null 2>&1 || { say "the Docker engine did not start"; exit 1; }
    fi
}

compose() {
    if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

ensure_compose() {
    docker compose version >/dev/null 2>&1 && return 0
    command -v docker-compose >/dev/null && return 0
    say "installing Debian's docker-compose"
    as_root apt-get update -qq && as_root apt-get install -y -qq docker-compose >/dev/null
}

# An image of the registry if it is here or can be pulled within a minute, else the local
# base that sandbox_images/build.sh makes (debootstrap bookworm + python3).
pick_base() {
    local official=$1
    if docker image inspect "$official" >/dev/null 2>&1; then echo "$official"; return; fi
    if [ "${UTRS_PULL_BASE:-1}" = 1 ] && timeout 60 docker pull -q "$official" >/dev/null 2>&1; then
        echo "$official"; return
    fi
    echo "$local_base"
}

# The API runs whatever code it is sent: published beyond this machine only with keys.
check_exposure() {
    local bind=${UTRS_API_BIND:-127.0.0.1}
    case "$bind" in
        127.*|localhost|::1) [ -n "${UTRS_API_KEYS:-}" ] || export UTRS_API_OPEN=true ;;  # loopback only
        *) if [ -z "${UTRS_API_KEYS:-}" ] && [ "${UTRS_API_OPEN:-}" != true ]; then
               say "refusing to publish the API on $bind without UTRS_API_KEYS: anyone who reaches"
               say "it could run code on this machine. Set UTRS_API_KEYS=key1,key2 (clients send"
               say "Authorization: Bearer <key>), or UTRS_API_BIND=127.0.0.1"
               exit 2
           fi ;;
    esac
}

up() {
    check_exposure
    ensure_docker
    ensure_compose
    say "sandbox image"
    "$root/sandbox_images/build.sh" >&2
    UTRS_BASE_IMAGE=${UTRS_BASE_IMAGE:-$(pick_base "$official_base")}
    UTRS_REDIS_BASE_IMAGE=${UTRS_REDIS_BASE_IMAGE:-$(pick_base "$official_redis_base")}
    export UTRS_BASE_IMAGE UTRS_REDIS_BASE_IMAGE
    if [ "$UTRS_BASE_IMAGE" = "$local_base" ] || [ "$UTRS_REDIS_BASE_IMAGE" = "$local_base" ]; then
        docker image inspect "$local_base" >/dev/null 2>&1 || {
            say "no registry and no local base $local_base: remove utrs-sandbox-python:latest"
            say "and run sandbox_images/build.sh again (it makes the base when it needs it)"
            exit 1
        }
    fi
    ca=${UTRS_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
    if [ -s "$ca" ]; then cp "$ca" docker/build-ca.crt; else rm -f docker/build-ca.crt; fi
    say "building service images on $UTRS_BASE_IMAGE (redis on $UTRS_REDIS_BASE_IMAGE)"
    compose build -q >&2
    say "starting $workers worker(s)"
    compose up -d --scale "worker=$workers" >&2
    wait_ready
}

# Readiness is asked from inside the API container (its Python), so the host needs no
# curl or python; the URL printed is the host's published port.
ready() {
    compose exec -T api python -c 'import sys, urllib.request
sys.exit(0 if urllib.request.urlopen("http://127.0.0.1:8000/readyz", timeout=2).status == 200 else 1)' \
        >/dev/null 2>&1
}

wait_ready() {
    for _ in $(seq 180); do
        if ready; then
            host=$(hostname -I 2>/dev/null | awk '{print $1}')
            [ "${UTRS_API_BIND:-127.0.0.1}" = 0.0.0.0 ] || host=${UTRS_API_BIND:-127.0.0.1}
            echo "utrs API ready: http://${host:-127.0.0.1}:$port  (docs: /docs; on this machine: http://127.0.0.1:$port)"
            return 0
        fi
        sleep 1
    done
    say "the API did not become ready within 180 s; logs:"
    compose logs --tail 30 >&2
    exit 1
}

case "${1:-up}" in
    up) up ;;
    down) compose down ;;
    purge) compose down -v ;;
    status) compose ps; wait_ready ;;
    *) echo "usage: $0 [up|down|purge|status]" >&2; exit 2 ;;
esac
