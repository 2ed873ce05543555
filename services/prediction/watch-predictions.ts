/**
 * WatchPredictions: a fresh prediction for a watched symbol each time FeaturesComputed brings a
 * newer vector for it, plus heartbeats while nothing changes. One hub serves every watcher: a
 * vector is predicted once per model name watched for its symbol and the same prediction goes to
 * every watcher of that pair, so a hundred dashboards on NABIL cost one inference (and one
 * published prediction), not a hundred. A slow watcher holds at most one unsent prediction per symbol:
 * a newer one replaces it, which bounds its memory and is what a watcher wants anyway.
 */
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';
import { HeartbeatSchema } from '../../gen/nepse/market/v1/market_pb.js';
import type { Prediction, WatchPredictionsRequest, WatchPredictionsResponse } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { InvalidArgumentError, NotFoundError, type CallContext } from '../../lib/grpc/index.js';
import { requireSymbol } from '../../lib/market/index.js';
import { MAX_BATCH_SYMBOLS, predictFromVector, predictMany, resolveModel, withModel, type PredictionDeps } from './predict.js';

interface Watcher {
  /** The model name watched: the one asked for, or the default resolved when the watch started. */
  modelName: string;
  /** The alias watched (its target of the moment predicts); empty: the Production version. */
  modelAlias: string;
  /** Whether the request named no model (its predictions say default_model_used). */
  defaultModelUsed: boolean;
  /** Predictions not yet sent, newest per symbol. */
  unsent: Map<string, Prediction>;
  wake(): void;
}

/** Serves WatchPredictions streams from the FeaturesComputed the feature source announces. */
export class PredictionWatchHub {
  private readonly bySymbol = new Map<string, Set<Watcher>>();
  private readonly closed = new AbortController();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: PredictionDeps,
    /** Keep-alive interval, in ms (market.proto: at least every 15 s). */
    private readonly heartbeatMs: number,
  ) {}

  /** Starts listening for fresh vectors. */
  start(): void {
    this.unsubscribe ??= this.deps.features.cache.onFresh((vector) => void this.onVector(vector));
  }

  /** Ends every watch stream (so a graceful stop is not held up by them) and stops listening. */
  close(): void {
    this.unsubscribe?.();
    this.closed.abort();
    for (const watchers of this.bySymbol.values()) for (const watcher of watchers) watcher.wake();
  }

  /** The WatchPredictions handler. */
  async *watch(request: WatchPredictionsRequest, context: CallContext): AsyncGenerator<WatchPredictionsResponse> {
    if (request.symbols.length === 0) throw new InvalidArgumentError({ field: 'symbols', description: 'at least one symbol is required' });
    if (request.symbols.length > MAX_BATCH_SYMBOLS) {
      throw new InvalidArgumentError({
        field: 'symbols',
        description: `at most ${MAX_BATCH_SYMBOLS} symbols, got ${request.symbols.length}`,
      });
    }
    const symbols = [...new Set(request.symbols.map((raw, i) => requireSymbol(raw, `symbols[${i}]`)))];
    // Fail now for a model that is not there at all; later events use whatever version of that name
    // is in Production then. The default is resolved once: a watch never changes model name.
    const model = resolveModel(this.deps, request.modelName, 0, request.modelAlias);
    const defaultModelUsed = request.modelName === '';

    let wakeUp: (() => void) | undefined;
    const watcher: Watcher = {
      modelName: model.name,
      modelAlias: request.modelAlias,
      defaultModelUsed,
      unsent: new Map(),
      wake: () => {
        const resume = wakeUp;
        wakeUp = undefined;
        resume?.();
      },
    };
    for (const symbol of symbols) {
      let watchers = this.bySymbol.get(symbol);
      if (!watchers) this.bySymbol.set(symbol, (watchers = new Set()));
      watchers.add(watcher);
    }
    this.deps.metrics.watchers.inc();
    const onAbort = () => watcher.wake();
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (request.includeCurrent) {
        // Symbols without a vector yet simply have no current prediction; their first one comes with their first features.
        for (const { prediction } of await withModel(model, () =>
          predictMany(this.deps, model, symbols, undefined, undefined, defaultModelUsed),
        )) {
          if (prediction && !watcher.unsent.has(prediction.symbol))
            watcher.unsent.set(prediction.symbol, { ...prediction, modelAlias: request.modelAlias });
        }
      }
      let lastSent = Date.now();
      while (!context.signal.aborted && !this.closed.signal.aborted) {
        if (watcher.unsent.size > 0) {
          const batch = [...watcher.unsent.values()];
          watcher.unsent.clear();
          for (const prediction of batch)
            yield { $typeName: 'nepse.prediction.v1.WatchPredictionsResponse', kind: { case: 'prediction', value: prediction } };
          lastSent = Date.now();
          continue;
        }
        const quiet = Date.now() - lastSent;
        if (quiet >= this.heartbeatMs) {
          yield {
            $typeName: 'nepse.prediction.v1.WatchPredictionsResponse',
            kind: { case: 'heartbeat', value: create(HeartbeatSchema, { sentAt: timestampNow() }) },
          };
          lastSent = Date.now();
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
          timer = setTimeout(resolve, this.heartbeatMs - quiet);
        });
        clearTimeout(timer);
      }
    } finally {
      context.signal.removeEventListener('abort', onAbort);
      for (const symbol of symbols) {
        const watchers = this.bySymbol.get(symbol);
        watchers?.delete(watcher);
        if (watchers?.size === 0) this.bySymbol.delete(symbol);
      }
      this.deps.metrics.watchers.dec();
    }
  }

  /** A newer vector: one prediction per model name watched for its symbol, to every such watcher. */
  private async onVector(vector: FeatureVector): Promise<void> {
    const watchers = this.bySymbol.get(vector.symbol);
    if (!watchers?.size) return;
    // One prediction per name and alias watched (an alias's target of the moment predicts for it).
    const byModel = new Map<string, Watcher[]>();
    for (const watcher of watchers) {
      const k = `${watcher.modelName}@${watcher.modelAlias}`;
      const list = byModel.get(k);
      if (list) list.push(watcher);
      else byModel.set(k, [watcher]);
    }
    await Promise.all(
      [...byModel].map(async ([, audience]) => {
        const { modelName, modelAlias } = audience[0];
        try {
          const model = resolveModel(this.deps, modelName, 0, modelAlias);
          // A vector of another feature set (say ohlcv_v2 while the model reads v1) is not this model's news.
          if (vector.featureSet?.name !== model.featureSet.name || vector.featureSet.version !== model.featureSet.version) return;
          const prediction = await withModel(model, () => predictFromVector(this.deps, model, { vector }));
          // One prediction per name; a watcher that asked for the default gets it marked as such.
          if (modelAlias !== '') prediction.modelAlias = modelAlias;
          const asDefault: Prediction = { ...prediction, defaultModelUsed: true };
          for (const watcher of audience) {
            watcher.unsent.set(prediction.symbol, watcher.defaultModelUsed ? asDefault : prediction);
            watcher.wake();
          }
        } catch (error) {
          // The model was retired or the vector does not fit it: the watchers hear nothing new, the logs do.
          const level = error instanceof NotFoundError ? 'info' : 'warn';
          this.deps.logger[level]({ err: error, symbol: vector.symbol, model: modelName }, 'no watch prediction for fresh features');
        }
      }),
    );
  }
}
