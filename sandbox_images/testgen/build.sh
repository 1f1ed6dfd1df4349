#!/usr/bin/env bash
# Build the test-generation image (the sandbox image + Pynguin), tagged with a content version.
#
#   sandbox_images/testgen/build.sh          # builds utrs-testgen-python:<version> and :latest
#   sandbox_images/testgen/build.sh --tag    # prints utrs-testgen-python:<version>, builds nothing
#
# The version hashes this directory and the sandbox image's own version, so it changes
# when either does. The sandbox image is built first (sandbox_images/build.sh). The build
# runs on the host network (TESTGEN_BUILD_NETWORK) so pip reaches PyPI where the default
# bridge has no DNS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${TESTGEN_IMAGE_NAME:-utrs-testgen-python}
sandbox_tag=$(bash "$here/../build.sh" --tag)
own=$(cd "$here" && find . -type f -not -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
version=$(printf '%s %s' "$sandbox_tag" "$own" | sha256sum | cut -c1-12)
if [ "${1:-}" = "--tag" ]; then echo "$image:$version"; exit 0; fi

if docker image inspect "$image:$version" >/dev/null 2>&1; then
    docker tag "$image:$version" "$image:latest"
    echo "test-generation image $image:$version is up to date"
    exit 0
fi
bash "$here/../build.sh" >&2
ctx=$(mktemp -d)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT
cp "$here/Dockerfile" "$here/requirements.txt" "$ctx/"
ca=${SANDBOX_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$ca" ]; then cp "$ca" "$ctx/build-ca.crt"; else : >"$ctx/build-ca.crt"; fi
echo "building $image:$version on $sandbox_tag (pip install pynguin: a few minutes)" >&2
docker build -q --network "${TESTGEN_BUILD_NETWORK:-host}" --build-arg "SANDBOX_IMAGE=$sandbox_tag" --build-arg "TESTGEN_VERSION=$version" \
    -t "$image:$version" -t "$image:latest" "$ctx" >/dev/null 2>"$ctx.log" || { cat "$ctx.log" >&2; exit 1; }
echo "built $image:$version"
