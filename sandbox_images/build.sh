#!/usr/bin/env bash
# Build the sandbox image, tagged with a content version.
#
#   sandbox_images/build.sh            # builds utrs-sandbox-python:<version> and :latest
#   sandbox_images/build.sh --tag      # prints utrs-sandbox-python:<version>, builds nothing
#
# The version is a hash of everything under sandbox_images/python/, so results cached
# by the service are keyed to the exact image that produced them. When the Dockerfile's
# official base (python:3.11-slim-bookworm) is not present locally and no registry can
# be reached, an equivalent local base is made once: debootstrap (minbase, bookworm) +
# Debian's python3 and venv, imported with `docker import`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ctx="$here/python"
image=${SANDBOX_IMAGE_NAME:-utrs-sandbox-python}
official_base=python:3.11-slim-bookworm
local_base=${SANDBOX_LOCAL_BASE:-utrs-base:bookworm-py3}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The image holds (and its version hashes) the context's files, without caches and dotfiles.
sources() { (cd "$ctx" && find . -type f -not -name '*.pyc' -not -path '*/__pycache__/*' -not -path '*/.*' -print0); }
version=$(cd "$ctx" && sources | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
if [ "${1:-}" = "--tag" ]; then echo "$image:$version"; exit 0; fi  # the tag this checkout builds

if docker image inspect "$image:$version" >/dev/null 2>&1; then
    docker tag "$image:$version" "$image:latest"
    echo "sandbox image $image:$version is up to date"
    exit 0
fi

pick_base() {
    if [ -n "${SANDBOX_BASE_IMAGE:-}" ]; then echo "$SANDBOX_BASE_IMAGE"; return; fi
    if docker image inspect "$official_base" >/dev/null 2>&1; then echo "$official_base"; return; fi
    if [ "${SANDBOX_PULL_BASE:-0}" = 1 ] && timeout 60 docker pull -q "$official_base" >/dev/null 2>&1; then
        echo "$official_base"; return
    fi
    echo "$local_base"
}

make_local_base() {
    docker image inspect "$local_base" >/dev/null 2>&1 && return 0
    command -v debootstrap >/dev/null || { echo "debootstrap is required to build $local_base" >&2; exit 1; }
    echo "building local base $local_base with debootstrap from $mirror (about a minute)" >&2
    root=$(mktemp -d /var/tmp/utrs-base.XXXXXX)
    trap 'rm -rf "$root"' RETURN
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$root" "$mirror" >/dev/null
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
        -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["python3"]' - "$local_base" >/dev/null
}

base=$(pick_base)
[ "$base" = "$local_base" ] && make_local_base
echo "building $image:$version on $base" >&2
build_ctx=$(mktemp -d)
trap 'rm -rf "$build_ctx" "$build_ctx.log"' EXIT
sources | tar -C "$ctx" --null -T - -c | tar -C "$build_ctx" -x
ca=${SANDBOX_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$ca" ]; then cp "$ca" "$build_ctx/build-ca.crt"; else : >"$build_ctx/build-ca.crt"; fi
docker build -q --build-arg "BASE_IMAGE=$base" --build-arg "SANDBOX_VERSION=$version" \
    -t "$image:$version" -t "$image:latest" "$build_ctx" >/dev/null 2>"$build_ctx.log" || { cat "$build_ctx.log" >&2; exit 1; }
echo "built $image:$version"
