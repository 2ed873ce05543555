/**
 * A loaded model and the life of its ONNX Runtime session: inference, leases, and release only
 * once nobody can still be using it.
 *
 * Why leases matter here: onnxruntime-node's `session.run` does its work in a setImmediate
 * callback, so a session released between the call and that callback fails the request ("Session
 * already disposed"), and a swap happens exactly then. Every use of a session therefore holds a
 * lease, and a replaced session is released only when it is retired, its last lease is returned
 * and a short grace period has passed. The grace covers callers that picked the model up a moment
 * earlier and use it one event-loop turn later (the micro-batcher's queues) without a lease.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';

/** A model version in an ONNX Runtime session, ready to serve. Never mutated after loading. */
export interface LoadedModel {
  /** Registry model name. */
  name: string;
  /** Registry version number. */
  version: number;
  /** The feature set whose vectors the model takes, in feature-set column order. */
  featureSet: { name: string; version: number };
  /** Features per row (F): the input is float32 [N, F]. */
  inputWidth: number;
  /** Name of the single graph input, e.g. `features`. */
  inputName: string;
  /** Name of the graph output read, e.g. `log_return` (float32 [N, 1]). */
  outputName: string;
  /** Hex sha256 of the artifact the session was built from. */
  sha256: string;
  /** When the session was created and passed its smoke test. */
  loadedAt: Date;
  session: InferenceSession;
}

/** Where a model's session is in its life. */
export type ModelState = 'serving' | 'retiring' | 'released';

/** Inference was asked of a model whose session has been released (a caller kept it without a lease). */
export class ModelReleasedError extends Error {
  override readonly name = 'ModelReleasedError';
  constructor(
    readonly model: string,
    readonly version: number,
  ) {
    super(`${model} version ${version} has been unloaded; pick the current version again`);
  }
}

/** The model answered something other than one float32 value per row. */
export class ModelOutputError extends Error {
  override readonly name = 'ModelOutputError';
}

interface Lifecycle {
  leases: number;
  retired: boolean;
  /** True once the retirement grace period is over. */
  graceOver: boolean;
  released: boolean;
  whenReleased: Promise<void>;
  resolveReleased: () => void;
  timer?: NodeJS.Timeout;
}

const lifecycles = new WeakMap<LoadedModel, Lifecycle>();

function lifecycleOf(model: LoadedModel): Lifecycle {
  let life = lifecycles.get(model);
  if (!life) {
    let resolveReleased!: () => void;
    const whenReleased = new Promise<void>((resolve) => (resolveReleased = resolve));
    life = { leases: 0, retired: false, graceOver: false, released: false, whenReleased, resolveReleased };
    lifecycles.set(model, life);
  }
  return life;
}

function releaseIfIdle(model: LoadedModel, life: Lifecycle): void {
  if (life.released || !life.retired || !life.graceOver || life.leases > 0) return;
  life.released = true;
  // A failed release leaks native memory but must not disturb serving; nothing can be retried.
  model.session
    .release()
    .catch(() => {})
    .finally(life.resolveReleased);
}

/**
 * Takes a lease on the model's session: it will not be released before the returned function is
 * called (calling it more than once is harmless).
 * @throws ModelReleasedError when the session is already released.
 */
export function acquireModel(model: LoadedModel): () => void {
  const life = lifecycleOf(model);
  if (life.released) throw new ModelReleasedError(model.name, model.version);
  life.leases++;
  let returned = false;
  return () => {
    if (returned) return;
    returned = true;
    life.leases--;
    releaseIfIdle(model, life);
  };
}

/**
 * Marks the model as no longer served: its session is released once every lease is returned and
 * `graceMs` have passed. Idempotent; a second call may only shorten the grace.
 * @returns resolves when the session has been released.
 */
export function retireModel(model: LoadedModel, graceMs: number): Promise<void> {
  const life = lifecycleOf(model);
  if (life.released) return life.whenReleased;
  life.retired = true;
  if (graceMs <= 0) {
    clearTimeout(life.timer);
    life.graceOver = true;
    releaseIfIdle(model, life);
  } else if (!life.graceOver && !life.timer) {
    life.timer = setTimeout(() => {
      life.graceOver = true;
      releaseIfIdle(model, life);
    }, graceMs);
    // A pending release must not keep a stopping process alive.
    life.timer.unref();
  }
  return life.whenReleased;
}

/** Whether the model is serving, retired but still usable, or released. */
export function modelState(model: LoadedModel): ModelState {
  const life = lifecycles.get(model);
  if (!life || !life.retired) return 'serving';
  return life.released ? 'released' : 'retiring';
}

/** Leases currently held on the model's session (inferences in flight plus explicit leases). */
export function modelLeases(model: LoadedModel): number {
  return lifecycles.get(model)?.leases ?? 0;
}

/**
 * Runs one inference: `rows` is count×inputWidth float32 row-major; returns count predicted log
 * returns. Holds a lease for the duration, so a hot swap never releases the session under it.
 * @throws RangeError when `rows` does not hold `count` rows of the model's width.
 * @throws ModelReleasedError when the session was released before the call.
 * @throws ModelOutputError when the model does not answer one float32 value per row.
 */
export async function infer(model: LoadedModel, rows: Float32Array, count: number): Promise<Float32Array> {
  if (!Number.isInteger(count) || count < 1 || rows.length !== count * model.inputWidth) {
    throw new RangeError(`${rows.length} values are not ${count} row(s) of ${model.inputWidth} features`);
  }
  const release = acquireModel(model);
  try {
    const input = new Tensor('float32', rows, [count, model.inputWidth]);
    const result = await model.session.run({ [model.inputName]: input }, [model.outputName]);
    const output = result[model.outputName] as Tensor | undefined;
    if (!output || output.type !== 'float32')
      throw new ModelOutputError(
        `${model.name}/${model.version} answered ${output?.type ?? 'nothing'} for ${model.outputName}, not float32`,
      );
    const values = output.data as Float32Array;
    if (values.length !== count) {
      throw new ModelOutputError(
        `${model.name}/${model.version} answered ${values.length} value(s) of shape [${output.dims.join(', ')}] for ${count} row(s)`,
      );
    }
    return values;
  } finally {
    release();
  }
}
