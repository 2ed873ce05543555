#!/usr/bin/env bash
# Regenerates what the contracts produce, both committed and never edited by hand:
#   gen/          TypeScript from proto/ (protobuf-es): exactly what `buf generate` makes;
#   descriptors/  descriptor sets built by buf that server reflection serves: ours, plus
#                 grpc.health.v1 and grpc.reflection from their npm packages.
# An argument writes both into <dir>/ instead (the contract checks compare them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
out="${1:-.}"

if [ "$out" = "." ]; then buf generate; else buf generate --output "$out"; fi
mkdir -p "$out/descriptors"
buf build --as-file-descriptor-set -o "$out/descriptors/nepse.binpb"
buf build node_modules/grpc-health-check/proto --as-file-descriptor-set -o "$out/descriptors/health.binpb"
buf build node_modules/@grpc/reflection/build/proto --path node_modules/@grpc/reflection/build/proto/grpc \
  --as-file-descriptor-set -o "$out/descriptors/reflection.binpb"
