#!/usr/bin/env bash
# Regenerates gen/ from proto/: TypeScript (protobuf-es) and the descriptor set
# that server reflection serves. gen/ is committed and never edited by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

buf generate && buf build --as-file-descriptor-set -o gen/descriptors.binpb
