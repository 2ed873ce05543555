#!/usr/bin/env bash
# Builds localhost/nepse-base:bookworm without a registry: a debootstrap'd Debian bookworm (minbase)
# with the Node 24 binary that npm's `node` package installed, at /usr/local/bin/node as in the
# official node:24-bookworm-slim image, so the Containerfile builds the same from either base.
# Kept when it already exists (it takes minutes); FORCE=1 rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/mesh/containers.conf}"
IMAGE="${BASE_IMAGE:-localhost/nepse-base:bookworm}"

if [[ "${FORCE:-0}" != 1 ]] && podman image exists "$IMAGE"; then
  echo "base: $IMAGE already built"
  exit 0
fi

NODE_BIN="node_modules/node/bin/node"
[[ -x "$NODE_BIN" ]] || { echo "base: $NODE_BIN missing; run npm ci" >&2; exit 1; }
MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

ROOTFS="$(mktemp -d /tmp/nepse-base.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "base: debootstrap bookworm from $MIRROR (a few minutes)"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >/dev/null
install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
# What an image needs from Debian is its libraries and /bin/sh; apt's caches and docs are not.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
tar -C "$ROOTFS" -c . | podman import --change 'CMD ["node"]' - "$IMAGE" >/dev/null
echo "base: $IMAGE built ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
