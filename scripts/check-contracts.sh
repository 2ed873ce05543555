#!/usr/bin/env bash
# CI checks of the contracts: lint, formatting, gen/ and descriptors/ up to date, and no
# breaking change against the last released contracts (contracts/baseline.binpb).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "==> buf lint: STANDARD + COMMENTS rules on proto/ (inference, google and onnx excluded)"
buf lint

echo "==> buf format: .proto files are formatted (no diff)"
if ! buf format -d --exit-code; then
  echo "FAIL: proto files are not formatted; run: buf format -w" >&2
  exit 1
fi

echo "==> gen/ and descriptors/ are exactly what scripts/generate.sh makes"
bash scripts/generate.sh "$tmp"
if ! diff -r "$tmp/gen" gen || ! diff -r "$tmp/descriptors" descriptors; then
  echo "FAIL: gen/ or descriptors/ is stale or edited by hand; run: scripts/generate.sh and commit both" >&2
  exit 1
fi

echo "==> buf breaking: no breaking change (FILE rules) against contracts/baseline.binpb"
if ! buf breaking --against contracts/baseline.binpb; then
  echo "FAIL: breaking change against the released contracts; add a new package version (v2) instead of editing v1" >&2
  exit 1
fi

echo "OK: contracts pass every check"
