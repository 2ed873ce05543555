/**
 * The bed prediction tests (and those of anything in front of predictions) run on: a test network
 * with the real feature service fed with bars over BarsIngested, the real registry holding a linear
 * ONNX model registered and promoted through its API, and the prediction service started once the
 * model is in Production. The feature service can be stopped and started again on its port, to
 * test what predictions do while it is away.
 */
import { create } from '@bufbuild/protobuf';
import { BarsIngestedSchema } from '../gen/nepse/events/v1/events_pb.js';
import type { FeatureService } from '../gen/nepse/feature/v1/feature_pb.js';
import type { PredictionService } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { Stage, type RegistryService } from '../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../lib/events/catalog.js';
import type { EventBus } from '../lib/events/index.js';
import { waitFor, type NatsTestServer } from '../lib/events/testing.js';
import type { ServiceClient } from '../lib/grpc/index.js';
import { dayOf, nextTradingDay, barMessage } from '../lib/market/index.js';
import { DEFAULT_FEATURE_SET, randomWalkBars, type DailyBar } from './market.js';
import { linearModel, registerRequests, registrationFor } from './models.js';
import { TestNetwork, type ServiceParams } from './network.js';
import type { RunningOf, ServiceName } from './services/index.js';

/** Features per ohlcv_v1 vector: the width of the bed's model. */
export const WIDTH = DEFAULT_FEATURE_SET.features.length;

/** The bed model's weights: small and of both signs, so predicted returns stay near zero. */
export const WEIGHTS = Array.from({ length: WIDTH }, (_, i) => (i % 2 ? -1 : 1) * 0.0004 * (i + 1));
/** The bed model's bias. */
export const BIAS = 0.0005;

/** Options of {@link startPredictionBed}. */
export interface PredictionBedOptions {
  /** Symbols given a history. */
  symbols: readonly string[];
  /** Bars per symbol of the default random-walk history; must exceed ohlcv_v1's 50-day warm-up. Default 80. */
  barsPerSymbol?: number;
  /**
   * A symbol's history, oldest first, instead of a random walk: trading days, longer than
   * ohlcv_v1's 50-day warm-up. The bed keeps a copy, to which later bars are appended.
   */
  history?: (symbol: string) => readonly DailyBar[];
  /** Weights of the promoted model, one per ohlcv_v1 feature. Default {@link WEIGHTS}. */
  weights?: readonly number[];
  /** Bias of the promoted model, log-return units. Default {@link BIAS}. */
  bias?: number;
  /** Extra environment of the prediction service (PREDICTION_*). */
  env?: Record<string, string>;
  /** Name of the promoted model. Default `bed-linear`. */
  modelName?: string;
  /** More services in the same network, left stopped for the test to start (`bed.network.service(name).start()`). */
  extra?: { [N in Exclude<ServiceName, 'feature' | 'registry' | 'prediction'>]?: ServiceParams };
}

/** Everything a prediction test talks to. */
export interface PredictionBed extends AsyncDisposable {
  readonly network: TestNetwork;
  readonly client: ServiceClient<typeof PredictionService>;
  readonly registry: ServiceClient<typeof RegistryService>;
  /** The registry's port, for clients of its own (a CLI, another service). */
  readonly registryPort: number;
  /** A client of the feature service, to compare with what predictions used. */
  readonly features: ServiceClient<typeof FeatureService>;
  /** A separate connection, as other services would have. */
  readonly bus: EventBus;
  readonly nats: NatsTestServer;
  /** The feature service's port, the same across stopFeature() and startFeature(). */
  readonly featurePort: number;
  readonly prediction: RunningOf<'prediction'>;
  /** The promoted model: name, version and its ONNX bytes. */
  readonly model: { name: string; version: number; bytes: Uint8Array };
  /** Bars published so far, per symbol. */
  readonly bars: Map<string, DailyBar[]>;
  /** Stops the feature service (its port stays known). */
  stopFeature(): Promise<void>;
  /** Starts the feature service again on the same port and data folder. */
  startFeature(): Promise<void>;
  /** Publishes the next trading day's bar of a symbol, 1 % up; resolves once its vector is served. */
  addBar(symbol: string): Promise<DailyBar>;
  /**
   * Publishes bars that follow a symbol's history, oldest first, in one BarsIngested event;
   * resolves once the vector of the last one is served.
   */
  addBars(symbol: string, bars: readonly DailyBar[]): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the bed; see the file comment. */
export async function startPredictionBed(options: PredictionBedOptions): Promise<PredictionBed> {
  const extra = Object.fromEntries(Object.entries(options.extra ?? {}).map(([name, params]) => [name, { ...params, deferred: true }]));
  const network = await TestNetwork.create({
    services: ['feature', 'registry', 'prediction', ...(Object.keys(extra) as ServiceName[])],
    ...extra,
    // Prediction reads the Production models while starting: it starts once the model is promoted.
    prediction: { deferred: true, env: { PREDICTION_INSTANCE_ID: 'bed-0', ...options.env } },
  });
  try {
    const { bus } = network;
    const features = network.client('feature');
    const latestDate = async (symbol: string) => {
      try {
        return dayOf((await features.getFeatures({ symbol })).vector?.date);
      } catch {
        return '';
      }
    };
    let batch = 0;
    const publish = async (symbol: string, bars: readonly DailyBar[]) => {
      const wire = bars.map((b) => barMessage(symbol, b));
      const batchId = `bed-${++batch}`;
      await bus.publish(
        MeshEvents.barsIngested,
        symbol,
        create(BarsIngestedSchema, { symbol, bars: wire, batchId, part: 1, partCount: 1 }),
        { msgId: `bars.ingested:${symbol}:${batchId}:1` },
      );
    };
    const bars = new Map<string, DailyBar[]>();
    for (const [i, symbol] of options.symbols.entries()) {
      const history = options.history
        ? [...options.history(symbol)]
        : randomWalkBars(options.barsPerSymbol ?? 80, { seed: 100 + i, startPrice: 200 + 50 * i, startDate: '2024-01-01' });
      bars.set(symbol, history);
      await publish(symbol, history);
    }
    await network.processAll({ timeoutMs: 60_000 });
    for (const [symbol, history] of bars) {
      const served = await latestDate(symbol);
      if (served !== history.at(-1)!.date)
        throw new Error(
          `the feature service serves ${symbol} up to ${served || 'nothing'} once its events are handled, not ${history.at(-1)!.date}`,
        );
    }

    const registry = network.client('registry');
    const name = options.modelName ?? 'bed-linear';
    const bytes = linearModel({ width: WIDTH, weights: options.weights ?? WEIGHTS, bias: options.bias ?? BIAS });
    const registered = await registry.registerModel(registerRequests(registrationFor(name, WIDTH), bytes));
    const version = registered.modelVersion!.version;
    await registry.transitionStage({ name, version, targetStage: Stage.PRODUCTION, actor: 'test', reason: 'prediction test bed' });
    const prediction = network.service('prediction');
    await prediction.start();

    const addBars = async (symbol: string, added: readonly DailyBar[]) => {
      const date = added.at(-1)!.date;
      bars.get(symbol)!.push(...added);
      await publish(symbol, added);
      await waitFor(async () => (await latestDate(symbol)) === date, `the vector of ${symbol} on ${date}`, {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    };
    const feature = network.service('feature');
    const stop = () => network.close();
    return {
      network,
      client: network.client('prediction'),
      registry,
      registryPort: network.service('registry').port,
      features,
      bus,
      nats: network.nats,
      featurePort: feature.port,
      prediction: prediction.running!,
      model: { name, version, bytes },
      bars,
      stopFeature: () => feature.stop(),
      startFeature: () => feature.start(),
      async addBar(symbol) {
        const last = bars.get(symbol)!.at(-1)!;
        const close = last.close * 1.01;
        const bar: DailyBar = {
          date: nextTradingDay(last.date),
          open: last.close,
          high: close * 1.005,
          low: last.close * 0.995,
          close,
          volume: 5_000,
          turnover: close * 5_000,
        };
        await addBars(symbol, [bar]);
        return bar;
      },
      addBars,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await network.close();
    throw error;
  }
}
