#!/usr/bin/env bash
# Builds the project's image with Podman and checks it running (.ci/image/run-checks.mjs). Called by
# .ci/run after the tests; on its own: `bash .ci/image/check.sh` (root; Node 24 on PATH).
#
# No image registry is reachable here, so the Dockerfile's NODE_IMAGE (node:24-slim by default) is
# replaced by a base bootstrapped from Debian's repository and the npm registry (.ci/image/base.sh),
# cached on this machine between runs. Podman is Debian's, with runc: crun fails on this machine's
# setrlimit/cgroups, so every podman call names runc and every container gets explicit ulimits.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=.ci/lib/apt.sh
. .ci/lib/apt.sh

# netavark (user networks, published ports) needs iptables; aardvark-dns resolves container names.
apt_install podman runc netavark aardvark-dns iptables mmdebstrap iproute2 procps
echo "$(podman --version), runc $(runc --version | sed -n 's/^runc version //p')"

# Explicit limits: open files as many as this shell may have (a container may not raise its hard
# limit: runc fails with "error setting rlimit ... operation not permitted"), and processes/threads
# plenty for one Node.js service (here runc also refuses nproc above 32768).
nofile=$(ulimit -Hn)
{ [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; } && nofile=65536
nproc=4096
export PODMAN_ULIMITS="nofile=$nofile:$nofile nproc=$nproc:$nproc"

base=$(bash .ci/image/base.sh)
tag="localhost/mathapi:ci-$$"
started=$SECONDS
build_log=$(mktemp)
# npm in the build trusts what npm on this machine trusts (here a TLS-intercepting egress proxy signs
# the registry's certificates): the machine's CA bundle and an npmrc naming it are bind-mounted into the
# RUN steps only, never part of a layer or the image.
build_mounts=()
host_cafile=${NODE_EXTRA_CA_CERTS:-}
[ -r "$host_cafile" ] || host_cafile=$(npm config get cafile 2>/dev/null || true)
[ -r "$host_cafile" ] || host_cafile=/etc/ssl/certs/ca-certificates.crt
if [ -r "$host_cafile" ]; then
  npmrc_dir=$(mktemp -d)
  printf 'cafile=/run/host-ca/ca.crt\n' >"$npmrc_dir/npmrc"
  build_mounts=(--volume "$host_cafile:/run/host-ca/ca.crt:ro" --volume "$npmrc_dir/npmrc:/usr/local/etc/npmrc:ro")
  echo "npm in the build trusts this machine's CA bundle ($host_cafile)"
fi
if ! podman --runtime runc build --layers --format docker "${build_mounts[@]}" \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
  --build-arg "NODE_IMAGE=$base" --tag "$tag" . >"$build_log" 2>&1; then
  cat "$build_log"
  echo "podman build failed" >&2
  exit 1
fi
build_seconds=$((SECONDS - started))
cached=$(grep -c -- '--> Using cache' "$build_log" || true)
steps=$(grep -cE 'STEP [0-9]+/[0-9]+: (RUN|COPY)' "$build_log" || true)
rm -f "$build_log"
size=$(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')
base_size=$(podman image inspect --format '{{.Size}}' "$base" | awk '{printf "%.0f MB", $1/1e6}')
echo "image $tag: built in ${build_seconds} s (${cached} of ${steps} RUN/COPY steps from the layer cache), ${size} (base ${base_size})"

status=0
node .ci/image/run-checks.mjs "$tag" || status=$?
podman image rm --force "$tag" >/dev/null 2>&1 || true
exit "$status"
