/**
 * Predict and PredictBatch, and the one path every prediction takes (the streams reuse it):
 * validate → pick the loaded model → fetch the feature vector of the model's feature set →
 * check the vector fits the model → infer (micro-batched) → answer → PredictionsMade.
 */
import { randomUUID } from 'node:crypto';
import type { FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';
import type { Date as TradingDate } from '../../gen/nepse/market/v1/market_pb.js';
import {
  DegradedReason,
  type PredictBatchRequest,
  type PredictBatchResponse,
  type PredictBatchResult,
  type Prediction,
  type PredictRequest,
  type PredictResponse,
} from '../../gen/nepse/prediction/v1/prediction_pb.js';
import {
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  toStatus,
  UnavailableError,
  type CallContext,
} from '../../lib/grpc/index.js';
import { fromProtoDate, isModelName, MODEL_NAME_PATTERN, requireSymbol } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { Batcher } from './batcher.js';
import type { Degradation, FeatureSource, SourcedVector } from './feature-source.js';
import { predictionSeries, type PredictionMetrics } from './metrics.js';
import { acquireModel } from './inference-session.js';
import { ALIAS_PATTERN, type ModelAliases } from './model-aliases.js';
import type { LoadedModel, ModelCache } from './model-cache.js';
import type { PredictionEvents } from './prediction-events.js';
import type { OutputMemo } from './output-memo.js';
import type { ShadowScorer } from './shadow.js';

/** What the prediction RPCs need. */
export interface PredictionDeps {
  models: ModelCache;
  features: FeatureSource;
  batcher: Batcher<LoadedModel>;
  events: PredictionEvents;
  /** Model used when a request names none (PREDICTION_DEFAULT_MODEL); undefined: the one name in Production, if only one is. */
  defaultModel: string | undefined;
  metrics: PredictionMetrics;
  logger: Logger;
  /** The aliases served here (model_alias); none when unset. */
  aliases?: ModelAliases;
  /** Shadow scoring of the served predictions; off when unset. */
  shadow?: ShadowScorer;
  /** Outputs already computed, reused for the same vector and model (PREDICTION_REUSE_OUTPUTS); every prediction runs the model when unset. */
  outputs?: OutputMemo;
}

/** Symbols one PredictBatch may ask for (prediction.proto). */
export const MAX_BATCH_SYMBOLS = 1000;

/** The request fields every prediction is made from (Predict, StreamPredictions, WatchPredictions). */
export interface PredictionInput {
  symbol: string;
  asOf?: TradingDate;
  modelName: string;
  modelVersion: number;
  /** Alias of the model (prediction.proto, model_alias); empty or absent means none. */
  modelAlias?: string;
}

/** What a request that names no model is told to do instead. */
const NAME_ONE = 'name one in model_name, or configure PREDICTION_DEFAULT_MODEL';

/**
 * The model name a request that names none gets (prediction.proto, PredictionService): the
 * configured default, or the one name in Production on this instance. Never a pick among several:
 * that pick would change, unannounced, when another name is promoted.
 * @throws FailedPreconditionError when no default is configured and not exactly one name is in Production.
 * @throws UnavailableError while the models of the start are still loading.
 */
export function defaultModelName(deps: Pick<PredictionDeps, 'models' | 'defaultModel'>): string {
  if (deps.defaultModel !== undefined) return deps.defaultModel;
  const names = deps.models.servingNames();
  if (names.length === 1) return names[0];
  if (!deps.models.ready) throw new UnavailableError('the models in Production are still being loaded', 1_000);
  if (names.length === 0) throw new FailedPreconditionError('no model is in Production', 'NO_MODEL_LOADED');
  throw new FailedPreconditionError(
    `the request names no model and there is no default: ${names.length} models are in Production (${names.join(', ')}); ${NAME_ONE}`,
    'DEFAULT_MODEL_AMBIGUOUS',
  );
}

/**
 * The loaded model a request asks for: its name (or the default, see {@link defaultModelName}) in
 * Production, or another loaded version of it.
 * @throws InvalidArgumentError for a malformed name or a negative version.
 * @throws NotFoundError naming the model when no version of a name the request gave is loaded.
 * @throws FailedPreconditionError when the version asked for is not loaded, or there is no default to use.
 * @throws UnavailableError while the models of the start are still loading.
 */
export function resolveModel(
  deps: Pick<PredictionDeps, 'models' | 'defaultModel' | 'aliases'>,
  requestedName: string,
  version = 0,
  alias = '',
): LoadedModel {
  if (requestedName !== '' && !isModelName(requestedName)) {
    throw new InvalidArgumentError({
      field: 'model_name',
      description: `model name ${JSON.stringify(requestedName.slice(0, 70))} must match ${MODEL_NAME_PATTERN.source}`,
    });
  }
  if (!Number.isInteger(version) || version < 0)
    throw new InvalidArgumentError({ field: 'model_version', description: `must be 0 (Production) or a version ≥ 1, got ${version}` });
  if (alias !== '') return resolveAlias(deps, requestedName, version, alias);
  const target = requestedName || defaultModelName(deps);
  const production = deps.models.current(target);
  if (production && (version === 0 || version === production.version)) return production;
  if (version > 0) {
    const loaded = deps.models.get(target, version);
    if (loaded) return loaded;
  }
  // Before the models of the start are in, "not loaded" means "not yet": worth retrying elsewhere.
  if (!deps.models.ready) throw new UnavailableError('the models in Production are still being loaded', 1_000);
  if (requestedName === '' && !production) {
    // Only a configured default can be missing here: the request did not name it, so say whose it is.
    throw new FailedPreconditionError(
      `the default model ${target} (PREDICTION_DEFAULT_MODEL) has no version in Production; name a model in model_name`,
      'NO_MODEL_LOADED',
    );
  }
  if (!production && !deps.models.list().some((m) => m.name === target)) {
    throw new NotFoundError('model', target, `model ${JSON.stringify(target)} is not loaded: no version of it is in Production`);
  }
  if (version === 0) throw new FailedPreconditionError(`model ${target} has no version in Production`, 'NO_MODEL_LOADED');
  throw new FailedPreconditionError(
    `model ${target} version ${version} is not loaded (Production is version ${production?.version ?? 'none'})`,
    'MODEL_VERSION_NOT_LOADED',
  );
}

/**
 * The loaded target of an alias of the requested (or default) name.
 * @throws InvalidArgumentError naming model_alias for a malformed alias or one sent with a version.
 * @throws FailedPreconditionError (ALIAS_NOT_SERVED) when this instance serves no such alias.
 */
function resolveAlias(
  deps: Pick<PredictionDeps, 'models' | 'defaultModel' | 'aliases'>,
  requestedName: string,
  version: number,
  alias: string,
): LoadedModel {
  if (!ALIAS_PATTERN.test(alias))
    throw new InvalidArgumentError({
      field: 'model_alias',
      description: `alias ${JSON.stringify(alias.slice(0, 70))} must match ${ALIAS_PATTERN.source}`,
    });
  if (version !== 0)
    throw new InvalidArgumentError({
      field: 'model_alias',
      description: `name a version or an alias, not both (model_version ${version})`,
    });
  const target = requestedName || defaultModelName(deps);
  const model = deps.aliases?.get(target, alias);
  if (model) return model;
  if (!deps.models.ready) throw new UnavailableError('the models in Production are still being loaded', 1_000);
  throw new FailedPreconditionError(`model ${target} has no alias ${alias} served here`, 'ALIAS_NOT_SERVED');
}

/**
 * Checks that a vector is the input the model was trained on.
 * @throws FailedPreconditionError for another feature set, another width, or values that are not finite.
 */
export function checkVector(model: LoadedModel, vector: FeatureVector): void {
  const set = vector.featureSet;
  if (!set || set.name !== model.featureSet.name || set.version !== model.featureSet.version) {
    throw new FailedPreconditionError(
      `model ${model.name} v${model.version} consumes ${model.featureSet.name}_v${model.featureSet.version}, the vector of ${vector.symbol} is ${set ? `${set.name}_v${set.version}` : 'of no feature set'}`,
      'FEATURE_SET_MISMATCH',
    );
  }
  if (vector.values.length !== model.inputWidth) {
    throw new FailedPreconditionError(
      `model ${model.name} v${model.version} takes ${model.inputWidth} features, the vector of ${vector.symbol} has ${vector.values.length}`,
      'FEATURE_WIDTH_MISMATCH',
    );
  }
  for (const value of vector.values) {
    if (!Number.isFinite(value))
      throw new FailedPreconditionError(`the feature vector of ${vector.symbol} holds a value that is not finite`, 'NON_FINITE_FEATURES');
  }
}

/** The second of the last predicted_at, and it as the bigint a Timestamp holds: one bigint a second, not one per prediction. */
let stampSecond = -1;
let stampSeconds = 0n;

/**
 * The Prediction message for a model output on a vector; no NaN or Infinity ever leaves.
 * @param defaultModelUsed whether the request named no model and the default made it.
 */
export function toPrediction(
  model: LoadedModel,
  vector: FeatureVector,
  predictedReturn: number,
  degraded: Degradation | undefined,
  defaultModelUsed = false,
): Prediction {
  const predictedClose = vector.close * Math.exp(predictedReturn);
  if (!Number.isFinite(predictedReturn) || !Number.isFinite(predictedClose)) {
    throw new FailedPreconditionError(
      `model ${model.name} v${model.version} produced a value that is not finite for ${vector.symbol}`,
      'NON_FINITE_PREDICTION',
    );
  }
  // Built as a literal with every field, not by create(): the reflective initialiser walks the
  // schema on every prediction, which shows under Predict load.
  const now = Date.now();
  const seconds = Math.floor(now / 1000);
  if (seconds !== stampSecond) [stampSecond, stampSeconds] = [seconds, BigInt(seconds)];
  return {
    $typeName: 'nepse.prediction.v1.Prediction',
    predictionId: randomUUID(),
    symbol: vector.symbol,
    featureDate: vector.date,
    predictedReturn,
    predictedClose,
    baseClose: vector.close,
    modelName: model.name,
    modelVersion: model.version,
    degraded: degraded !== undefined,
    degradedReason: degraded?.reason ?? DegradedReason.UNSPECIFIED,
    degradedDetail: degraded?.detail ?? '',
    predictedAt: { $typeName: 'google.protobuf.Timestamp', seconds: stampSeconds, nanos: (now % 1000) * 1_000_000 },
    defaultModelUsed,
    modelAlias: '',
  };
}

/**
 * Publishes and counts a prediction served from `features`. `started` is the performance.now()
 * of the request and `inferring` that of its inference run's start: what came before the run
 * (validation, the feature lookup) a shadow of the prediction shares, so its latency counts it too.
 */
export function served(
  deps: Pick<PredictionDeps, 'events' | 'metrics' | 'shadow'>,
  prediction: Prediction,
  started: number,
  features: readonly number[],
  inferring = started,
): Prediction {
  deps.events.made(prediction, performance.now() - started, features);
  deps.shadow?.offer(prediction, features, inferring - started);
  predictionSeries(deps.metrics).served(prediction.modelName, prediction.degraded);
  return prediction;
}

/**
 * Runs `work` holding a lease on the model's session: a hot swap may retire the version while its
 * feature lookup is under way (up to the feature timeout), and the session must outlive that.
 */
export async function withModel<T>(model: LoadedModel, work: () => Promise<T>): Promise<T> {
  const release = acquireModel(model);
  try {
    return await work();
  } finally {
    release();
  }
}

/**
 * Predicts from a vector already at hand (WatchPredictions: the one FeaturesComputed carried), reusing
 * the output the model already gave for this very vector when there is one (output-memo.ts).
 */
export async function predictFromVector(
  deps: PredictionDeps,
  model: LoadedModel,
  sourced: SourcedVector,
  started = performance.now(),
  defaultModelUsed = false,
): Promise<Prediction> {
  const { vector } = sourced;
  checkVector(model, vector);
  const inferring = performance.now();
  let predicted = deps.outputs?.get(model, vector);
  if (predicted === undefined) {
    predicted = await deps.batcher.predict(model, vector.values);
    deps.outputs?.set(model, vector, predicted);
  } else predictionSeries(deps.metrics).reused(model.name);
  return served(
    deps,
    toPrediction(model, sourced.vector, predicted, sourced.degraded, defaultModelUsed),
    started,
    sourced.vector.values,
    inferring,
  );
}

/**
 * One prediction, the path of Predict and StreamPredictions.
 * @param deadline the call's deadline in epoch ms, if it has one: a degraded answer or UNAVAILABLE comes before it.
 */
export async function predictOne(deps: PredictionDeps, input: PredictionInput, deadline: number | undefined): Promise<Prediction> {
  const started = performance.now();
  const symbol = requireSymbol(input.symbol);
  const asOf = input.asOf ? fromProtoDate(input.asOf, 'as_of') : undefined;
  const alias = input.modelAlias ?? '';
  const model = resolveModel(deps, input.modelName, input.modelVersion, alias);
  // The lease of withModel, taken inline: this is every Predict's path, and a vector the cache
  // holds fresh is used without waiting for a promise.
  const release = acquireModel(model);
  try {
    const sourced =
      deps.features.fresh(symbol, asOf, model.featureSet) ?? (await deps.features.get(symbol, asOf, model.featureSet, deadline));
    const prediction = await predictFromVector(deps, model, sourced, started, input.modelName === '');
    prediction.modelAlias = alias;
    return prediction;
  } finally {
    release();
  }
}

/** Predict. */
export async function predict(deps: PredictionDeps, request: PredictRequest, context: CallContext): Promise<PredictResponse> {
  const prediction = await predictOne(deps, request, context.deadline);
  return { $typeName: 'nepse.prediction.v1.PredictResponse', prediction };
}

/**
 * Predictions of many symbols with one feature lookup and one inference run; a failing symbol
 * fails only its own entry. Used by PredictBatch and by WatchPredictions' include_current.
 * @param defaultModelUsed whether the request named no model and the default is `model`.
 * @returns one result per requested symbol, in order.
 */
export async function predictMany(
  deps: PredictionDeps,
  model: LoadedModel,
  rawSymbols: readonly string[],
  asOf: string | undefined,
  deadline: number | undefined,
  defaultModelUsed = false,
): Promise<Array<{ symbol: string; prediction?: Prediction; error?: unknown }>> {
  const started = performance.now();
  const results: Array<{ symbol: string; prediction?: Prediction; error?: unknown }> = rawSymbols.map((symbol) => ({ symbol }));
  const valid: Array<{ index: number; symbol: string }> = [];
  rawSymbols.forEach((raw, index) => {
    try {
      valid.push({ index, symbol: requireSymbol(raw, `symbols[${index}]`) });
    } catch (error) {
      results[index].error = error;
    }
  });
  if (valid.length === 0) return results;
  const sourced = await deps.features.getMany(
    valid.map((v) => v.symbol),
    asOf,
    model.featureSet,
    deadline,
  );
  const ready: Array<{ index: number; sourced: SourcedVector }> = [];
  valid.forEach(({ index }, i) => {
    const source = sourced[i];
    if (source instanceof Error) {
      results[index].error = source;
      return;
    }
    try {
      checkVector(model, source.vector);
      ready.push({ index, sourced: source });
    } catch (error) {
      results[index].error = error;
    }
  });
  if (ready.length === 0) return results;
  const width = model.inputWidth;
  const rows = new Float32Array(ready.length * width);
  ready.forEach(({ sourced: s }, i) => rows.set(s.vector.values, i * width));
  const inferring = performance.now();
  const outputs = await deps.batcher.run(model, rows, ready.length);
  ready.forEach(({ index, sourced: s }, i) => {
    try {
      results[index].prediction = served(
        deps,
        toPrediction(model, s.vector, outputs[i], s.degraded, defaultModelUsed),
        started,
        s.vector.values,
        inferring,
      );
    } catch (error) {
      results[index].error = error;
    }
  });
  return results;
}

/** The request fields of a batch of predictions (PredictBatch, and StreamPredictions with symbols). */
export interface BatchInput {
  symbols: readonly string[];
  asOf?: TradingDate;
  modelName: string;
  modelVersion: number;
  /** Alias of the model, as in {@link PredictionInput}. */
  modelAlias?: string;
}

/**
 * One result per symbol of a batch, in order; only a malformed request as a whole throws.
 * @throws InvalidArgumentError naming `symbols` when there are none or too many.
 */
export async function predictSymbols(deps: PredictionDeps, input: BatchInput, deadline: number | undefined): Promise<PredictBatchResult[]> {
  if (input.symbols.length === 0) throw new InvalidArgumentError({ field: 'symbols', description: 'at least one symbol is required' });
  if (input.symbols.length > MAX_BATCH_SYMBOLS) {
    throw new InvalidArgumentError({ field: 'symbols', description: `at most ${MAX_BATCH_SYMBOLS} symbols, got ${input.symbols.length}` });
  }
  const asOf = input.asOf ? fromProtoDate(input.asOf, 'as_of') : undefined;
  const alias = input.modelAlias ?? '';
  const model = resolveModel(deps, input.modelName, input.modelVersion, alias);
  const outcomes = await withModel(model, () => predictMany(deps, model, input.symbols, asOf, deadline, input.modelName === ''));
  for (const { prediction } of outcomes) if (prediction) prediction.modelAlias = alias;
  return outcomes.map(({ symbol, prediction, error }) => ({
    $typeName: 'nepse.prediction.v1.PredictBatchResult',
    symbol,
    outcome: prediction ? { case: 'prediction', value: prediction } : { case: 'error', value: statusOf(deps.logger, error) },
  }));
}

/** PredictBatch. */
export async function predictBatch(
  deps: PredictionDeps,
  request: PredictBatchRequest,
  context: CallContext,
): Promise<PredictBatchResponse> {
  return { $typeName: 'nepse.prediction.v1.PredictBatchResponse', results: await predictSymbols(deps, request, context.deadline) };
}

/** The google.rpc.Status of a per-item failure; a failure that is no domain error is a bug, so it is logged. */
export function statusOf(logger: Logger, error: unknown) {
  if (!(error instanceof DomainError)) logger.error({ err: error }, 'prediction failed');
  return toStatus(error);
}
