import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  ArtifactFormat,
  DownloadArtifactResponseSchema,
  type DownloadArtifactRequest,
  type DownloadArtifactResponse,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { NotFoundError, type CallContext } from '../../lib/grpc/index.js';
import type { RegistryDeps } from './context.js';
import { DataLossError } from '../../lib/grpc/index.js';
import { registryStore } from './store.js';
import { requireModelName, requireVersion } from './validate.js';

/** Largest chunk of a download, in bytes: small enough to interleave with other streams on a connection. */
export const DOWNLOAD_CHUNK_BYTES = 256 * 1024;

const chunk = (value: Uint8Array) => create(DownloadArtifactResponseSchema, { content: { case: 'chunk', value } });

/**
 * DownloadArtifact: the artifact's description (format, sha256, size) first, then its bytes in
 * chunks of at most 256 KiB. The registry hashes what it sends and holds the last chunk back
 * until the digest and size match the stored ones: a damaged artifact ends the stream with
 * DATA_LOSS before the client has the whole thing. Clients verify the sha256 themselves too.
 */
export async function* downloadArtifact(
  deps: RegistryDeps,
  request: DownloadArtifactRequest,
  context: CallContext,
): AsyncIterable<DownloadArtifactResponse> {
  const name = requireModelName(request.name);
  const version = requireVersion(request.version);
  const row = await registryStore.version(deps.db, name, version);
  if (!row) throw new NotFoundError('model version', `${name}/${version}`);
  const sha256 = row.artifact_sha256;
  yield create(DownloadArtifactResponseSchema, {
    content: { case: 'artifact', value: { format: ArtifactFormat.ONNX, sha256, sizeBytes: BigInt(row.artifact_size_bytes) } },
  });
  const hash = createHash('sha256');
  let size = 0;
  let held: Uint8Array | undefined;
  for await (const block of deps.artifacts.read(sha256)) {
    for (let at = 0; at < block.byteLength; at += DOWNLOAD_CHUNK_BYTES) {
      if (context.signal.aborted) return;
      const part = block.subarray(at, at + DOWNLOAD_CHUNK_BYTES);
      hash.update(part);
      size += part.byteLength;
      if (held) yield chunk(held);
      held = part;
    }
  }
  const digest = hash.digest('hex');
  if (digest !== sha256 || size !== row.artifact_size_bytes) {
    throw new DataLossError(
      `artifact of ${name}/${version} is damaged: ${size} bytes hashing to ${digest}, expected ${row.artifact_size_bytes} bytes hashing to ${sha256}`,
      'ARTIFACT_LOST',
    );
  }
  if (held) yield chunk(held);
}
