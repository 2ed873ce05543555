import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ModelRegisteredSchema } from '../../gen/nepse/events/v1/events_pb.js';
import {
  RegisterModelResponseSchema,
  type RegisterModelRequest,
  type RegisterModelResponse,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { NO_KEY } from '../../lib/events/index.js';
import { InvalidArgumentError, UnavailableError } from '../../lib/grpc/index.js';
import { commitChange, type RegistryDeps } from './context.js';
import { toModelVersion } from './model-version.js';
import { enqueueEvent } from './outbox.js';
import {
  checkAgainstFeatureSet,
  checkRegistration,
  MAX_ARTIFACT_BYTES,
  MAX_CHUNK_BYTES,
  newVersionOf,
  type CheckedRegistration,
} from './registration.js';
import { registryStore } from './store.js';
import { verifyArtifact } from './verify-artifact.js';

/** A registration stream read to its end: the checked metadata and the whole artifact. */
interface Upload {
  checked: CheckedRegistration;
  featureSetLabel: string;
  bytes: Buffer;
  sha256: string;
}

/**
 * Reads a registration stream: the registration first (checked, and checked against its feature
 * set, before a byte of artifact is accepted, so bad metadata costs no upload), then chunks into
 * a running sha256 and a buffer bounded by the declared size or 256 MiB.
 */
async function readUpload(deps: RegistryDeps, requests: AsyncIterable<RegisterModelRequest>): Promise<Upload> {
  let checked: CheckedRegistration | undefined;
  let featureSetLabel = '';
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  let size = 0;
  for await (const request of requests) {
    const content = request.content;
    if (content.case === 'registration') {
      if (checked)
        throw new InvalidArgumentError({ field: 'registration', description: 'the registration comes once, in the first message' });
      checked = checkRegistration(content.value);
      const set = await deps.featureSets.get(checked.featureSet);
      featureSetLabel = `${checked.featureSet.name}_v${checked.featureSet.version}`;
      if (!set)
        throw new InvalidArgumentError({
          field: 'registration.feature_set',
          description: `feature set ${featureSetLabel} is not served by the feature service`,
        });
      checkAgainstFeatureSet(checked, set);
    } else if (content.case === 'chunk') {
      if (!checked)
        throw new InvalidArgumentError({
          field: 'registration',
          description: 'the first message must carry the registration, before any chunk',
        });
      const chunk = content.value;
      if (chunk.byteLength > MAX_CHUNK_BYTES)
        throw new InvalidArgumentError({
          field: 'chunk',
          description: `chunks are at most ${MAX_CHUNK_BYTES} bytes (1 MiB), got ${chunk.byteLength}`,
        });
      size += chunk.byteLength;
      if (checked.sizeBytes !== undefined && size > checked.sizeBytes) {
        throw new InvalidArgumentError({
          field: 'registration.artifact_size_bytes',
          description: `the artifact is larger than the declared ${checked.sizeBytes} bytes`,
        });
      }
      if (size > MAX_ARTIFACT_BYTES)
        throw new InvalidArgumentError({ field: 'chunk', description: `the artifact exceeds ${MAX_ARTIFACT_BYTES} bytes (256 MiB)` });
      hash.update(chunk);
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } else {
      throw new InvalidArgumentError({ field: 'content', description: 'each message carries the registration or a chunk' });
    }
  }
  if (!checked) throw new InvalidArgumentError({ field: 'registration', description: 'the stream ended before the registration' });
  if (size === 0)
    throw new InvalidArgumentError({ field: 'chunk', description: 'the artifact is empty: send its bytes after the registration' });
  if (checked.sizeBytes !== undefined && size !== checked.sizeBytes) {
    throw new InvalidArgumentError({
      field: 'registration.artifact_size_bytes',
      description: `declared ${checked.sizeBytes} bytes, received ${size}`,
    });
  }
  const sha256 = hash.digest('hex');
  if (checked.sha256 !== undefined && sha256 !== checked.sha256) {
    throw new InvalidArgumentError({
      field: 'registration.artifact_sha256',
      description: `declared ${checked.sha256}, but the bytes received hash to ${sha256}`,
    });
  }
  return { checked, featureSetLabel, bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), sha256 };
}

/**
 * RegisterModel. Nothing becomes visible before the artifact is proven: checksum and size as
 * declared, loads in ONNX Runtime, takes the feature set's width, passes a smoke inference. Then
 * the artifact goes to the object store, and the version row, its history entry and the
 * ModelRegistered event are committed in one transaction. A refused artifact leaves no row, no
 * object and no event. The same name and sha256 again answer the existing version.
 */
export async function registerModel(deps: RegistryDeps, requests: AsyncIterable<RegisterModelRequest>): Promise<RegisterModelResponse> {
  // Each registration may buffer 256 MiB: past the limit, refuse before reading a byte.
  if (deps.uploads.active >= deps.uploads.limit) {
    throw new UnavailableError(`${deps.uploads.active} registrations are being received; try again shortly`, 2_000);
  }
  deps.uploads.active++;
  try {
    const upload = await readUpload(deps, requests);
    const { checked, sha256 } = upload;
    const existing = await registryStore.versionBySha(deps.db, checked.name, sha256);
    if (existing) return create(RegisterModelResponseSchema, { modelVersion: toModelVersion(existing) });

    const r = checked.registration;
    await verifyArtifact(upload.bytes, { input: r.input!, output: r.output!, width: checked.width, featureSet: upload.featureSetLabel });
    const { created } = await deps.artifacts.put(sha256, upload.bytes);
    try {
      const row = await commitChange(deps, async (tx, history) => {
        await registryStore.lockModel(tx, checked.name, true);
        // A twin registration may have committed while this one was verifying.
        const twin = await registryStore.versionBySha(tx, checked.name, sha256);
        if (twin) return twin;
        const version = await registryStore.nextVersion(tx, checked.name);
        await registryStore.insertVersion(tx, version, newVersionOf(checked, sha256, upload.bytes.byteLength));
        await history.append({
          name: checked.name,
          version,
          kind: 'registered',
          toStage: 'none',
          actor: checked.registeredBy,
          reason: r.trainingJobId ? `trained by job ${r.trainingJobId}` : 'registered',
        });
        const event = create(ModelRegisteredSchema, {
          name: checked.name,
          version,
          featureSet: checked.featureSet,
          artifactSha256: sha256,
          trainingJobId: r.trainingJobId,
          actor: checked.registeredBy,
          occurredAt: timestampFromDate(new Date()),
        });
        await enqueueEvent(tx, MeshEvents.modelRegistered, NO_KEY, event, `models.registered:${checked.name}:${version}`);
        return (await registryStore.version(tx, checked.name, version))!;
      });
      deps.logger.info({ model: row.name, version: row.version, sha256, bytes: upload.bytes.byteLength }, 'model registered');
      return create(RegisterModelResponseSchema, { modelVersion: toModelVersion(row) });
    } catch (error) {
      // The version was not committed: take back an object this call stored, unless another
      // name's version already points at the same bytes.
      if (created && !(await registryStore.artifactReferenced(deps.db, sha256).catch(() => true))) {
        await deps.artifacts.delete(sha256).catch((e) => deps.logger.warn({ err: e, sha256 }, 'could not remove an unreferenced artifact'));
      }
      throw error;
    }
  } finally {
    deps.uploads.active--;
  }
}
