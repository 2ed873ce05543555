#!/usr/bin/env bash
# make images: the local base (once), then every service's image in both variants, and the local
# nats stand-in. Installs podman, runc and debootstrap from Debian when missing.
#   localhost/nepse-<service>:dev      embedded variant (chdb, PGlite), what the dev overlay runs
#   localhost/nepse-<service>:<version> server variant (ClickHouse and PostgreSQL servers)
# BASE=docker.io/library/node:24-bookworm-slim builds from the official image instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/mesh/containers.conf}"

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]} > 0)); then
  echo "images: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq podman runc debootstrap >/dev/null
fi

BASE="${BASE:-localhost/nepse-base:bookworm}"
[[ "$BASE" == localhost/nepse-base:* ]] && BASE_IMAGE="$BASE" bash mesh/images/base.sh
VERSION="$(node -p 'require("./package.json").version')"

echo "images: bundling every service (esbuild)"
BUNDLE=localhost/nepse-bundle:build
podman build --quiet -f mesh/images/Containerfile --ignorefile mesh/images/Containerfile.ignore \
  --build-arg "BASE=$BASE" --build-arg SERVICE=all --target bundle -t "$BUNDLE" . >/dev/null

for main in services/*/main.ts; do
  service="$(basename "$(dirname "$main")")"
  for variant in embedded server; do
    tag=$([[ $variant == embedded ]] && echo dev || echo "$VERSION")
    echo "images: nepse-$service:$tag ($variant)"
    podman build --quiet -f mesh/images/Containerfile --ignorefile mesh/images/Containerfile.ignore \
      --build-arg "BASE=$BASE" --build-arg "BUNDLE=$BUNDLE" --build-arg "SERVICE=$service" --build-arg "VARIANT=$variant" \
      -t "localhost/nepse-$service:$tag" . >/dev/null
  done
done

# NATS: the official image where a registry answers; otherwise this machine's nats-server.
if ! podman image exists localhost/nepse-nats:dev; then
  NATS_BIN="$(command -v nats-server || true)"
  [[ -n "$NATS_BIN" ]] || { apt-get install -y -qq nats-server >/dev/null; NATS_BIN="$(command -v nats-server)"; }
  context="$(mktemp -d)"
  trap 'rm -rf "$context"' EXIT
  cp "$NATS_BIN" "$context/nats-server"
  podman build --quiet -f mesh/images/nats.Containerfile --build-arg "BASE=$BASE" -t localhost/nepse-nats:dev "$context" >/dev/null
fi
# The bundle image stays (the next run reuses it while the sources are unchanged); the layers of
# earlier runs' images go.
podman image prune --force >/dev/null
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'nepse-' | sort
