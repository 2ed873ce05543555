/**
 * Turning artifact bytes into a servable {@link LoadedModel}: an ONNX Runtime session whose
 * signature matches what the registry says, and which passes a smoke test.
 */
import { createHash } from 'node:crypto';
import { InferenceSession } from 'onnxruntime-node';
import { infer, type LoadedModel } from './inference-session.js';

/** The step of loading a model that failed. */
export type ModelLoadStage = 'metadata' | 'download' | 'checksum' | 'session' | 'signature' | 'smoke_test';

/**
 * A model version cannot be served here. `transient` says whether trying again later may help
 * (the registry was unreachable) or not (the artifact itself is wrong). The message is what the
 * instance reports in ModelActivation.reason: `<stage>: <what is wrong>`.
 */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  readonly transient: boolean;
  constructor(
    readonly model: string,
    readonly version: number,
    readonly stage: ModelLoadStage,
    reason: string,
    options: { transient?: boolean; cause?: unknown } = {},
  ) {
    super(`${stage.replace('_', ' ')}: ${reason}`, { cause: options.cause });
    this.transient = options.transient ?? false;
  }
}

/** What the registry says about a version: everything but the session. */
export type ModelDescription = Omit<LoadedModel, 'session' | 'loadedAt' | 'sha256'>;

/**
 * Session options for the small models served here: one thread, because onnxruntime-node runs
 * inference on the event loop's thread and extra intra-op threads only compete with gRPC for the
 * same cores; full graph optimisation, since it is paid once per load.
 */
export const DEFAULT_SESSION_OPTIONS: InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
};

/** ONNX Runtime messages can be long; an activation reason carries the gist. */
export const gist = (error: unknown) =>
  String((error as Error)?.message ?? error)
    .replace(/\s+/g, ' ')
    .slice(0, 300);

/**
 * Creates the session, checks its signature against `description` and smoke-tests it.
 * @throws ModelLoadError (stage `session`, `signature` or `smoke_test`); the session is released.
 */
export async function openModel(
  bytes: Uint8Array,
  description: ModelDescription,
  sessionOptions: InferenceSession.SessionOptions = DEFAULT_SESSION_OPTIONS,
): Promise<LoadedModel> {
  const { name, version } = description;
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, sessionOptions);
  } catch (error) {
    throw new ModelLoadError(name, version, 'session', `ONNX Runtime cannot load the artifact: ${gist(error)}`, { cause: error });
  }
  const model: LoadedModel = { ...description, sha256: createHash('sha256').update(bytes).digest('hex'), loadedAt: new Date(), session };
  try {
    checkSignature(model);
    await smokeTest(model);
    model.loadedAt = new Date();
    return model;
  } catch (error) {
    await session.release().catch(() => {});
    throw error;
  }
}

function checkSignature(model: LoadedModel): void {
  const { session, name, version } = model;
  const refuse = (reason: string) => new ModelLoadError(name, version, 'signature', reason);
  if (session.inputNames.length !== 1)
    throw refuse(
      `the model takes ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); it must take exactly one, the feature vectors`,
    );
  if (session.inputNames[0] !== model.inputName)
    throw refuse(`the model's input is ${JSON.stringify(session.inputNames[0])}, the registry says ${JSON.stringify(model.inputName)}`);
  if (!session.outputNames.includes(model.outputName))
    throw refuse(`the model has no output ${JSON.stringify(model.outputName)} (its outputs: ${session.outputNames.join(', ')})`);
  const input = session.inputMetadata[0];
  if (input?.isTensor) {
    if (input.type !== 'float32') throw refuse(`the model's input is ${input.type}; only float32 models are served`);
    if (input.shape.length !== 2)
      throw refuse(`the model's input has shape [${input.shape.join(', ')}]; it must be [batch, ${model.inputWidth}]`);
    const width = input.shape[1];
    if (typeof width === 'number' && width !== model.inputWidth) {
      throw refuse(
        `the model's input is ${width} features wide, but feature set ${model.featureSet.name} v${model.featureSet.version} has ${model.inputWidth}`,
      );
    }
  }
}

/**
 * Zero vectors, as the registry checks at registration, and beside them a row of ones: zeros are
 * the one input on which many broken graphs still look fine (a log or a square root of a feature,
 * a division by one), real feature vectors are not zeros. The batch of two must also answer its
 * zero row like the batch of one did: micro-batching puts unrelated requests into one run, which
 * is only correct for a model that answers every row on its own.
 */
async function smokeTest(model: LoadedModel): Promise<void> {
  const width = model.inputWidth;
  const fail = (reason: string, cause?: unknown) => new ModelLoadError(model.name, model.version, 'smoke_test', reason, { cause });
  const run = async (rows: Float32Array, count: number, what: string) => {
    let out: Float32Array;
    try {
      out = await infer(model, rows, count);
    } catch (error) {
      throw fail(`inference on ${what} failed: ${gist(error)}`, error);
    }
    out.forEach((value, row) => {
      if (!Number.isFinite(value)) throw fail(`the model answers ${value} for row ${row} of ${what}; predictions must be finite`);
    });
    return out;
  };
  const single = await run(new Float32Array(width), 1, `[1, ${width}] zeros`);
  const pair = new Float32Array(2 * width).fill(1, width);
  const double = await run(pair, 2, `[2, ${width}] (a zero row and a row of ones)`);
  if (Math.abs(double[0] - single[0]) > 1e-5 + 1e-4 * Math.abs(single[0])) {
    throw fail(`the zero row is answered ${single[0]} alone but ${double[0]} beside another row; rows must be answered independently`);
  }
}
