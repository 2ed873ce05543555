/**
 * inference.GRPCInferenceService — the Open Inference Protocol v2 over the model cache, so
 * standard inference clients (KServe, Triton, Seldon, grpcurl) can call the served models
 * directly, plus Triton's streaming extension ModelStreamInfer.
 *
 * Model versions are the registry's numbers as strings; an empty version means the Production
 * version. Only FP32 tensors are served (the models take float32 features).
 */
import { readFileSync } from 'node:fs';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  GRPCInferenceService,
  ModelMetadataResponseSchema,
  ModelStreamInferResponseSchema,
  type ModelInferRequest,
  type ModelInferResponseSchema,
} from '../../gen/inference/grpc_service_pb.js';
import { DomainError, grpc, implement, InvalidArgumentError, NotFoundError, type ServiceImplementation } from '../../lib/grpc/index.js';
import { acquireModel, infer, type LoadedModel } from './inference-session.js';
import { checkRequestedOutputs, decodeInput, encodeResponse, FP32 } from './inference-tensors.js';
import type { ModelCache } from './model-cache.js';

/** Name in ServerMetadata. */
export const SERVER_NAME = 'nepse-prediction';

/** `platform` of every model in ModelMetadata (Triton's name for ONNX Runtime models). */
export const PLATFORM = 'onnxruntime_onnx';

/** Options of {@link inferenceHandlers}. */
export interface InferenceProtocolOptions {
  /** ServerMetadata version; default the package.json version. */
  serverVersion?: string;
  /** Runs one inference; default `infer`. The service may pass its batcher's `run` (for its metrics). */
  run?: (model: LoadedModel, rows: Float32Array, count: number) => Promise<Float32Array>;
  /** Largest batch N of one ModelInfer request. Default 8 192 rows. */
  maxRows?: number;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** '' or a positive integer as a string; anything else is refused naming `field`. */
function parseVersion(version: string, field: string): number | undefined {
  if (version === '') return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(version))
    throw new InvalidArgumentError({
      field,
      description: `must be a version number such as "3", or empty for the Production version; got ${JSON.stringify(version)}`,
    });
  return Number(version);
}

function requireName(name: string, field: string): string {
  if (name === '') throw new InvalidArgumentError({ field, description: 'is required' });
  return name;
}

/** The named model (a version, or the Production one), or NOT_FOUND. */
function find(cache: ModelCache, name: string, version: number | undefined): LoadedModel {
  const found = version === undefined ? cache.current(name) : cache.get(name, version);
  if (found) return found;
  if (version !== undefined && cache.current(name)) throw new NotFoundError('model version', `${name}/${version}`);
  throw new NotFoundError(
    'model',
    name,
    version === undefined ? `model ${JSON.stringify(name)} is not served (no Production version loaded)` : undefined,
  );
}

/** How one failed request of a stream is reported: `INVALID_ARGUMENT: inputs[0].shape: …`. */
function streamError(error: unknown): string {
  if (error instanceof DomainError) return `${grpc.status[error.code]}: ${error.message}`;
  return 'INTERNAL: internal error';
}

/** The handlers of inference.GRPCInferenceService over `cache`, for the service to serve. */
export function inferenceHandlers(cache: ModelCache, options: InferenceProtocolOptions = {}): ServiceImplementation {
  const run = options.run ?? infer;
  const maxRows = options.maxRows ?? 8_192;
  const serverVersion = options.serverVersion ?? packageVersion();

  async function modelInfer(request: ModelInferRequest): Promise<MessageInitShape<typeof ModelInferResponseSchema>> {
    const name = requireName(request.modelName, 'model_name');
    const model = find(cache, name, parseVersion(request.modelVersion, 'model_version'));
    // Held until the answer is encoded: a swap meanwhile must not release the session under it.
    const release = acquireModel(model);
    try {
      checkRequestedOutputs(request, model);
      const input = decodeInput(request, model, maxRows);
      const outputs = await run(model, input.rows, input.count);
      return encodeResponse(request, model, outputs.subarray(0, input.count), input.raw);
    } finally {
      release();
    }
  }

  return implement(GRPCInferenceService, {
    serverLive: () => ({ live: true }),
    serverReady: () => ({ ready: cache.ready }),
    modelReady: (request) => {
      const name = requireName(request.name, 'name');
      const version = parseVersion(request.version, 'version');
      return { ready: (version === undefined ? cache.current(name) : cache.get(name, version)) !== undefined };
    },
    // No extension is listed: of Triton's named extensions none is implemented (ModelStreamInfer is
    // part of Triton's gRPC service itself, not a named extension).
    serverMetadata: () => ({ name: SERVER_NAME, version: serverVersion, extensions: [] }),
    modelMetadata: (request) => {
      const name = requireName(request.name, 'name');
      const model = find(cache, name, parseVersion(request.version, 'version'));
      const versions = cache
        .list()
        .filter((m) => m.name === name)
        .map((m) => String(m.version));
      return create(ModelMetadataResponseSchema, {
        name,
        versions,
        platform: PLATFORM,
        inputs: [{ name: model.inputName, datatype: FP32, shape: [-1n, BigInt(model.inputWidth)] }],
        outputs: [{ name: model.outputName, datatype: FP32, shape: [-1n, 1n] }],
      });
    },
    modelInfer,
    // In order, one at a time: the answers must come back in request order, and the model runs on
    // the event loop's thread anyway, so overlapping requests would gain little.
    async *modelStreamInfer(requests) {
      for await (const request of requests) {
        try {
          yield create(ModelStreamInferResponseSchema, { inferResponse: await modelInfer(request) });
        } catch (error) {
          yield create(ModelStreamInferResponseSchema, {
            errorMessage: streamError(error),
            inferResponse: { id: request.id, modelName: request.modelName, modelVersion: request.modelVersion },
          });
        }
      }
    },
  });
}
