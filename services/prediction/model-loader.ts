/**
 * Loads model versions from the registry: metadata (GetModel), artifact (DownloadArtifact,
 * checksum verified), then an ONNX Runtime session that passed its smoke test (inference-open.ts).
 */
import { createHash } from 'node:crypto';
import { Histogram } from 'prom-client';
import type { InferenceSession } from 'onnxruntime-node';
import { RegistryService, Stage, TensorDataType, type ModelVersion } from '../../gen/nepse/registry/v1/registry_pb.js';
import { grpc, statusDetails, type ServiceClient } from '../../lib/grpc/index.js';
import { createCallPolicy, isPolicyRejection, type ResilienceMode } from '../../lib/resilience/index.js';
import { metric, type Logger } from '../../lib/telemetry/index.js';
import { DEFAULT_SESSION_OPTIONS, gist, ModelLoadError, openModel, type ModelDescription } from './inference-open.js';
import type { LoadedModel } from './inference-session.js';

export { DEFAULT_SESSION_OPTIONS, ModelLoadError, openModel, type ModelDescription, type ModelLoadStage } from './inference-open.js';

/** Options of {@link createModelLoader}. Durations are milliseconds. */
export interface ModelLoaderOptions {
  registry: ServiceClient<typeof RegistryService>;
  logger: Logger;
  /** `app`: retries and a circuit breaker here; `mesh`: Istio does both. Default `app`. */
  mode?: ResilienceMode;
  /** Time for one metadata call (GetModel, one ListModels page), retries included, in ms. Default 10 000. */
  callTimeoutMs?: number;
  /** Time for one artifact download, in ms. Default 120 000. */
  downloadTimeoutMs?: number;
  /** Largest artifact accepted, in bytes. Default 256 MiB, the registry's own limit. */
  maxArtifactBytes?: number;
  /** ONNX Runtime session options; default {@link DEFAULT_SESSION_OPTIONS}. */
  sessionOptions?: InferenceSession.SessionOptions;
}

/** What loading the Production models found. */
export interface ProductionLoad {
  loaded: LoadedModel[];
  /** Production versions that could not be loaded (each with why). */
  failed: ModelLoadError[];
}

/** Loads model versions from the registry. */
export interface ModelLoader {
  /**
   * Downloads, verifies, loads and smoke-tests one version. `expectedSha256` (from ModelPromoted)
   * must match what the registry serves.
   * @throws ModelLoadError saying which step failed and whether retrying may help.
   */
  load(name: string, version: number, options?: { expectedSha256?: string }): Promise<LoadedModel>;
  /**
   * Every version in Production at the registry, loaded; versions that fail are reported, not thrown.
   * @throws the registry's error when the list itself cannot be read (see {@link isTransient}).
   */
  loadProduction(): Promise<ProductionLoad>;
  /** The version in Production for `name` at the registry now; 0 when there is none. */
  productionVersion(name: string): Promise<number>;
}

/** gRPC codes that say something about the request or the artifact, not about reachability. */
const PERMANENT_CODES = new Set<number>([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNIMPLEMENTED,
  grpc.status.DATA_LOSS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
]);

/**
 * Whether trying again later may succeed. Anything not known to be permanent counts as transient:
 * a wrong "transient" only delays an answer, a wrong "permanent" rolls a good model back.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ModelLoadError) return error.transient;
  if (isPolicyRejection(error)) return true;
  const code = (error as { code?: unknown })?.code;
  return typeof code !== 'number' || !PERMANENT_CODES.has(code);
}

/** `NOT_FOUND: model version "x/3" not found`, from a client-side gRPC error. */
function describeCallError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const details = statusDetails(error);
  const name = typeof code === 'number' ? (grpc.status[code] ?? String(code)) : '';
  const message = details?.message ?? (error as { details?: string })?.details ?? gist(error);
  return name ? `${name}: ${message}` : message;
}

const loadSeconds = () =>
  metric(
    'nepse_prediction_model_load_seconds',
    () =>
      new Histogram({
        name: 'nepse_prediction_model_load_seconds',
        help: 'Time to load one model version (metadata, download, session, smoke test), in seconds, by result.',
        labelNames: ['result'],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      }),
  );

/** Creates a loader over the registry client. */
export function createModelLoader(options: ModelLoaderOptions): ModelLoader {
  const { registry, logger } = options;
  const downloadTimeoutMs = options.downloadTimeoutMs ?? 120_000;
  const maxArtifactBytes = options.maxArtifactBytes ?? 256 * 1024 * 1024;
  const policy = createCallPolicy({ mode: options.mode ?? 'app', timeoutMs: options.callTimeoutMs ?? 10_000 });
  const metrics = loadSeconds();

  async function describe(name: string, version: number): Promise<{ description: ModelDescription; sha256: string }> {
    let found: ModelVersion | undefined;
    try {
      found = (await policy.execute((signal) => registry.getModel({ name, selector: { case: 'version', value: version } }, { signal })))
        .modelVersion;
    } catch (error) {
      throw new ModelLoadError(name, version, 'metadata', `the registry answered ${describeCallError(error)}`, {
        transient: isTransient(error),
        cause: error,
      });
    }
    const refuse = (reason: string) => new ModelLoadError(name, version, 'signature', reason);
    if (!found?.input || !found.output || !found.featureSet || !found.artifact)
      throw new ModelLoadError(name, version, 'metadata', 'the registry answered an incomplete model version');
    if (found.input.dataType !== TensorDataType.FP32)
      throw refuse(`the input is ${TensorDataType[found.input.dataType]}; only FP32 models are served`);
    const width = found.input.shape.length === 2 ? Number(found.input.shape[1]) : NaN;
    if (!Number.isInteger(width) || width < 1) throw refuse(`the input shape [${found.input.shape.join(', ')}] is not [batch, features]`);
    return {
      description: {
        name,
        version,
        featureSet: { name: found.featureSet.name, version: found.featureSet.version },
        inputWidth: width,
        inputName: found.input.name,
        outputName: found.output.name,
      },
      sha256: found.artifact.sha256,
    };
  }

  /** The artifact's bytes, checked against the size and sha256 the stream announces and `sha256`. */
  async function download(name: string, version: number, sha256: string): Promise<Uint8Array> {
    const fail = (reason: string, transient = false, cause?: unknown) =>
      new ModelLoadError(name, version, 'checksum', reason, { transient, cause });
    const signal = AbortSignal.timeout(downloadTimeoutMs);
    const hash = createHash('sha256');
    let bytes: Uint8Array | undefined;
    let received = 0;
    try {
      for await (const message of registry.downloadArtifact({ name, version }, { signal })) {
        const content = message.content;
        if (!bytes) {
          if (content.case !== 'artifact') throw fail('the download did not start with the artifact description');
          const size = Number(content.value.sizeBytes);
          if (content.value.sha256 !== sha256)
            throw fail(`the download announces sha256 ${content.value.sha256}, the model version has ${sha256}`);
          if (!Number.isSafeInteger(size) || size < 1 || size > maxArtifactBytes)
            throw fail(`the artifact's size ${size} bytes is outside 1…${maxArtifactBytes}`);
          bytes = new Uint8Array(size);
          continue;
        }
        if (content.case !== 'chunk') throw fail('a second artifact description arrived mid-download');
        if (received + content.value.byteLength > bytes.byteLength) throw fail(`more than the announced ${bytes.byteLength} bytes arrived`);
        bytes.set(content.value, received);
        received += content.value.byteLength;
        hash.update(content.value);
      }
    } catch (error) {
      if (error instanceof ModelLoadError) throw error;
      const reason = signal.aborted
        ? `the download took longer than ${downloadTimeoutMs} ms`
        : `the registry answered ${describeCallError(error)}`;
      throw new ModelLoadError(name, version, 'download', reason, { transient: signal.aborted || isTransient(error), cause: error });
    }
    if (!bytes) throw fail('the download ended before the artifact description', true);
    // A short stream is a broken connection, not a broken artifact: try again.
    if (received !== bytes.byteLength) throw fail(`received ${received} of ${bytes.byteLength} bytes`, true);
    const digest = hash.digest('hex');
    if (digest !== sha256) throw fail(`the downloaded bytes hash to ${digest}, expected ${sha256}`);
    return bytes;
  }

  async function load(name: string, version: number, loadOptions: { expectedSha256?: string } = {}): Promise<LoadedModel> {
    const started = performance.now();
    try {
      const { description, sha256 } = await describe(name, version);
      const expected = loadOptions.expectedSha256;
      if (expected && expected !== sha256)
        throw new ModelLoadError(name, version, 'checksum', `the promotion announced sha256 ${expected}, the registry holds ${sha256}`);
      const bytes = await download(name, version, sha256);
      const model = await openModel(bytes, description, options.sessionOptions ?? DEFAULT_SESSION_OPTIONS);
      const ms = performance.now() - started;
      metrics.observe({ result: 'ok' }, ms / 1000);
      logger.info(
        { model: name, version, sha256, bytes: bytes.byteLength, inputWidth: model.inputWidth, ms: Math.round(ms) },
        'model loaded',
      );
      return model;
    } catch (error) {
      metrics.observe({ result: 'failed' }, (performance.now() - started) / 1000);
      throw error;
    }
  }

  async function productionVersions(): Promise<ModelVersion[]> {
    const versions: ModelVersion[] = [];
    let pageToken = '';
    do {
      const page = await policy.execute((signal) =>
        registry.listModels({ stage: Stage.PRODUCTION, pageSize: 1000, pageToken }, { signal }),
      );
      versions.push(...page.modelVersions);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return versions;
  }

  return {
    load,
    async loadProduction() {
      const result: ProductionLoad = { loaded: [], failed: [] };
      for (const v of await productionVersions()) {
        try {
          result.loaded.push(await load(v.name, v.version, { expectedSha256: v.artifact?.sha256 }));
        } catch (error) {
          const failure =
            error instanceof ModelLoadError ? error : new ModelLoadError(v.name, v.version, 'session', gist(error), { cause: error });
          logger.error(
            { model: v.name, version: v.version, reason: failure.message, transient: failure.transient },
            'production model could not be loaded',
          );
          result.failed.push(failure);
        }
      }
      return result;
    },
    async productionVersion(name) {
      try {
        const found = await policy.execute((signal) =>
          registry.getModel({ name, selector: { case: 'stage', value: Stage.PRODUCTION } }, { signal }),
        );
        return found.modelVersion?.version ?? 0;
      } catch (error) {
        if ((error as { code?: unknown })?.code === grpc.status.NOT_FOUND) return 0;
        throw error;
      }
    },
  };
}
