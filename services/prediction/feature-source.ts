/**
 * Where predictions get their feature vectors: the feature service, asked through the kit's
 * resilience policy, with the last vector seen per symbol kept as a fallback. When the feature
 * service cannot answer (unreachable, too slow, or its breaker open), a cached vector answers and
 * the result says so; with nothing cached the lookup fails with UNAVAILABLE — in both cases before
 * the caller's deadline, because every lookup races its own timer rather than trusting the call.
 *
 * Lookups that arrive in the same event-loop turn are coalesced into one BatchGetFeatures per
 * (feature set, as-of) pair, so at concurrency 64 the feature service sees a handful of calls, not
 * 64. A vector heard of within the freshness window is used without asking (feature-cache.ts).
 */
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import type { Status } from '../../gen/google/rpc/status_pb.js';
import { FeatureService, type FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';
import { DegradedReason } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import {
  detached,
  FailedPreconditionError,
  grpc,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  type ServiceClient,
} from '../../lib/grpc/index.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { CallPolicy } from '../../lib/resilience/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import { featureSetKey, isoOf, type FeatureCache, type FeatureSetKey } from './feature-cache.js';
import type { PredictionMetrics } from './metrics.js';

export type { FeatureSetKey } from './feature-cache.js';

/** Why an answer is degraded, as the proto's DegradedReason plus a human-readable detail. */
export interface Degradation {
  reason: DegradedReason;
  detail: string;
}

/** A vector to predict from; `degraded` is set when it came from the cache instead of the feature service. */
export interface SourcedVector {
  vector: FeatureVector;
  degraded?: Degradation;
}

/** What the feature service said about one symbol. */
type Outcome = { vector: FeatureVector } | { error: Error } | { failure: Degradation };

/** Symbols one BatchGetFeatures may carry (feature.proto). */
const MAX_SYMBOLS_PER_CALL = 1000;

/** Codes by which the feature service answers the question instead of failing to answer it. */
const VERDICTS = new Set<number>([
  grpc.status.NOT_FOUND,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
]);

/** Options of {@link FeatureSource}. */
export interface FeatureSourceOptions {
  client: ServiceClient<typeof FeatureService>;
  /** The policy every feature call runs under (createCallPolicy, RESILIENCE_MODE). */
  policy: CallPolicy;
  /** Time allowed for one lookup, in ms, before the cached vector answers. */
  timeoutMs: number;
  /** Vectors heard of, for the freshness window and the fallback. */
  cache: FeatureCache;
  logger: Logger;
  metrics: PredictionMetrics;
}

interface Group {
  set: FeatureSetKey;
  asOf: string | undefined;
  waiters: Map<string, Array<(outcome: Outcome) => void>>;
}

/** Feature vectors for predictions: fetched, coalesced, cached, with a degraded fallback. */
export class FeatureSource {
  /** Vectors heard of: the fallback, and FeaturesComputed's subscribers (feature-cache.ts). */
  readonly cache: FeatureCache;
  private readonly groups = new Map<string, Group>();

  constructor(private readonly options: FeatureSourceOptions) {
    this.cache = options.cache;
  }

  /**
   * The vector {@link get} answers at once from the cache, when the cache holds it fresh: callers
   * on the hot path (Predict) skip a promise and a turn of the microtask queue with it.
   */
  fresh(symbol: string, asOf: string | undefined, set: FeatureSetKey): SourcedVector | undefined {
    const vector = this.cache.fresh(set, symbol, asOf);
    return vector ? { vector } : undefined;
  }

  /**
   * The vector of `symbol` on `asOf` (ISO day; undefined: the latest) in feature set `set`.
   * @param deadline epoch ms by which the caller must have its answer (the RPC's deadline), if any.
   * @throws NotFoundError when the feature service knows no such vector.
   * @throws UnavailableError when the feature service cannot answer and nothing usable is cached.
   */
  async get(symbol: string, asOf: string | undefined, set: FeatureSetKey, deadline?: number): Promise<SourcedVector> {
    const fresh = this.fresh(symbol, asOf, set);
    if (fresh) return fresh;
    const outcome = await this.withinBudget(new Promise<Outcome>((resolve) => this.enqueue(symbol, asOf, set, resolve)), deadline);
    return this.settle(symbol, asOf, set, outcome);
  }

  /**
   * The vectors of many symbols in one BatchGetFeatures (PredictBatch): one entry per symbol, in
   * order, each a vector or the error that symbol gets.
   */
  async getMany(
    symbols: readonly string[],
    asOf: string | undefined,
    set: FeatureSetKey,
    deadline?: number,
  ): Promise<Array<SourcedVector | Error>> {
    const hits = new Map<string, FeatureVector>();
    for (const symbol of symbols) {
      const fresh = this.cache.fresh(set, symbol, asOf);
      if (fresh) hits.set(symbol, fresh);
    }
    const misses = [...new Set(symbols)].filter((symbol) => !hits.has(symbol));
    const outcomes = misses.length === 0 ? new Map<string, Outcome>() : await this.withinBudget(this.fetch(set, asOf, misses), deadline);
    return symbols.map((symbol) => {
      const hit = hits.get(symbol);
      if (hit) return { vector: hit };
      try {
        return this.settle(symbol, asOf, set, outcomes instanceof Map ? outcomes.get(symbol)! : outcomes);
      } catch (error) {
        return error as Error;
      }
    });
  }

  /** Joins the lookup to the group of this turn, starting the group when it is the first. */
  private enqueue(symbol: string, asOf: string | undefined, set: FeatureSetKey, resolve: (outcome: Outcome) => void): void {
    const key = `${featureSetKey(set)}|${asOf ?? ''}`;
    let group = this.groups.get(key);
    if (!group) {
      this.groups.set(key, (group = { set, asOf, waiters: new Map() }));
      // The coalesced lookup serves every caller of the turn: it must not inherit one caller's deadline.
      detached(() => setImmediate(() => this.flush(key, group!)));
    }
    const waiting = group.waiters.get(symbol);
    if (waiting) waiting.push(resolve);
    else group.waiters.set(symbol, [resolve]);
    if (group.waiters.size >= MAX_SYMBOLS_PER_CALL) this.flush(key, group);
  }

  private flush(key: string, group: Group): void {
    if (this.groups.get(key) !== group) return; // already sent when it filled up
    this.groups.delete(key);
    void this.fetch(group.set, group.asOf, [...group.waiters.keys()]).then((outcomes) => {
      for (const [symbol, waiting] of group.waiters) {
        const outcome = outcomes instanceof Map ? outcomes.get(symbol)! : outcomes;
        for (const resolve of waiting) resolve(outcome);
      }
    });
  }

  /** Asks the feature service; never rejects: a failed call is one outcome for every symbol. */
  private async fetch(set: FeatureSetKey, asOf: string | undefined, symbols: string[]): Promise<Map<string, Outcome> | Outcome> {
    const { client, policy, timeoutMs } = this.options;
    const request = { asOf: asOf === undefined ? undefined : toProtoDate(asOf), featureSet: { name: set.name, version: set.version } };
    const outcomes = new Map<string, Outcome>();
    try {
      if (symbols.length === 1) {
        const symbol = symbols[0];
        const response = await policy.execute((signal) => client.getFeatures({ ...request, symbol }, { timeoutMs, signal }));
        outcomes.set(
          symbol,
          response.vector
            ? { vector: this.kept(response.vector, asOf) }
            : { failure: unavailable('the feature service answered without a vector') },
        );
        return outcomes;
      }
      const response = await policy.execute((signal) => client.batchGetFeatures({ ...request, symbols }, { timeoutMs, signal }));
      for (const result of response.results) {
        if (result.outcome.case === 'vector') outcomes.set(result.symbol, { vector: this.kept(result.outcome.value, asOf) });
        else if (result.outcome.case === 'error') outcomes.set(result.symbol, outcomeOfStatus(result.outcome.value, result.symbol, asOf));
      }
      for (const symbol of symbols)
        if (!outcomes.has(symbol)) outcomes.set(symbol, { failure: unavailable(`the feature service left ${symbol} out of its answer`) });
      return outcomes;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'number' && VERDICTS.has(code)) {
        const details = (error as { details?: string }).details ?? '';
        return outcomeOfStatus({ code, message: details } as Status, symbols[0], asOf);
      }
      return { failure: degradationOf(error) };
    }
  }

  /**
   * Remembers a vector fetched as the latest and returns it. A vector asked for by day is not
   * remembered: with nothing cached yet it would pass for the latest within the freshness window.
   */
  private kept(vector: FeatureVector, asOf: string | undefined): FeatureVector {
    if (asOf === undefined) this.cache.remember(vector);
    return vector;
  }

  /** Races `work` against the caller's budget: the feature timeout, or less when the deadline is nearer. */
  private async withinBudget<T>(work: Promise<T>, deadline: number | undefined): Promise<T | Outcome> {
    let budget = this.options.timeoutMs;
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      // Keep a slice back to run the model and send the degraded answer: a quarter of what is
      // left, at most 250 ms. The kit's 50 ms reserve for downstream calls (lib/grpc/client.ts)
      // is too thin here: with a 500 ms lookup under a 600 ms deadline, a busy event loop on two
      // cores pushed degraded answers past the deadline.
      budget = Math.min(budget, Math.max(0, left - Math.min(250, left / 4)));
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Outcome>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            failure: {
              reason: DegradedReason.FEATURE_SERVICE_TIMEOUT,
              detail: `the feature service did not answer within ${Math.round(budget)} ms`,
            },
          }),
        budget,
      );
    });
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns an outcome into the vector to use, falling back to the cache when the service failed. */
  private settle(symbol: string, asOf: string | undefined, set: FeatureSetKey, outcome: Outcome): SourcedVector {
    if ('vector' in outcome) return { vector: outcome.vector };
    if ('error' in outcome) throw outcome.error;
    const cached = this.cache.latest(set, symbol);
    const usable = cached && (asOf === undefined || isoOf(cached) === asOf);
    if (!usable) {
      const wanted = asOf === undefined ? `${symbol}` : `${symbol} on ${asOf}`;
      throw new UnavailableError(`feature service cannot answer (${outcome.failure.detail}) and no vector of ${wanted} is cached`, 1_000);
    }
    this.options.metrics.degraded.inc({ reason: DegradedReason[outcome.failure.reason] });
    return { vector: cached, degraded: outcome.failure };
  }
}

const unavailable = (detail: string): Degradation => ({ reason: DegradedReason.FEATURE_SERVICE_UNAVAILABLE, detail });

/** What a failed call means for the answer: breaker open, too slow, or unreachable. */
function degradationOf(error: unknown): Degradation {
  if (error instanceof BrokenCircuitError) {
    return { reason: DegradedReason.CIRCUIT_OPEN, detail: 'the circuit breaker in front of the feature service is open' };
  }
  const code = (error as { code?: unknown }).code;
  if (error instanceof TaskCancelledError || code === grpc.status.DEADLINE_EXCEEDED) {
    return { reason: DegradedReason.FEATURE_SERVICE_TIMEOUT, detail: `the feature service did not answer in time (${messageOf(error)})` };
  }
  return unavailable(`the feature service could not be reached (${messageOf(error)})`);
}

function messageOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const text = (error as { details?: string }).details || (error as Error).message || String(error);
  return typeof code === 'number' ? `${grpc.status[code] ?? code}: ${text}` : text;
}

/** A per-symbol status of the feature service, as what the prediction's caller gets. */
function outcomeOfStatus(status: Pick<Status, 'code' | 'message'>, symbol: string, asOf: string | undefined): Outcome {
  switch (status.code) {
    case grpc.status.NOT_FOUND:
      return {
        error:
          asOf === undefined
            ? new NotFoundError('symbol', symbol, `no feature vector for symbol ${symbol}`)
            : new NotFoundError('feature vector', `${symbol}@${asOf}`, `no feature vector for ${symbol} on ${asOf}`),
      };
    case grpc.status.INVALID_ARGUMENT:
      return { error: new InvalidArgumentError({ field: asOf === undefined ? 'symbol' : 'as_of', description: status.message }) };
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
      return { error: new FailedPreconditionError(`feature service: ${status.message}`) };
    default:
      return {
        failure: unavailable(`the feature service failed for ${symbol} (${grpc.status[status.code] ?? status.code}: ${status.message})`),
      };
  }
}
