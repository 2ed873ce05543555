#!/usr/bin/env bash
# Regenerates gen/ from proto/: TypeScript (protobuf-es) and the descriptor sets that server
# reflection serves (ours, plus grpc.health.v1 and grpc.reflection from their npm packages).
# gen/ is committed and never edited by hand. An argument writes into <dir>/gen instead (checks).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
out="${1:-.}"

if [ "$out" = "." ]; then buf generate; else buf generate --output "$out"; fi
buf build --as-file-descriptor-set -o "$out/gen/descriptors.binpb"
buf build node_modules/grpc-health-check/proto --as-file-descriptor-set -o "$out/gen/health.binpb"
buf build node_modules/@grpc/reflection/build/proto --path node_modules/@grpc/reflection/build/proto/grpc \
  --as-file-descriptor-set -o "$out/gen/reflection.binpb"
