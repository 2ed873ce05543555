/**
 * The whole mesh behind a real gateway, for the dashboard's browser test: a private nats-server,
 * every service on free loopback ports (in this process, embedded stores in a temporary folder)
 * and the gateway as its own process, as `make dev` runs it; NEPSE-like bars ingested through the ingestion service, features
 * computed, a linear ONNX model with a walk-forward backtest registered and promoted through the
 * registry, and the gateway serving a given dashboard build with one viewer API key.
 *
 * Monitoring runs one rule that any scored prediction breaks (live error above 1 % of the
 * backtest's), so the first bar that scores a prediction raises an alert within the test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { Baseline } from '../../gen/nepse/market/v1/market_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService, Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { startNatsServer, waitFor, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient, type ServiceClient } from '../../lib/grpc/index.js';
import { dayOf, toProtoDate, todayInNepal, tradingDays, barMessage } from '../../lib/market/index.js';
import { freePort, startServiceProcess } from '../../lib/runtime/service-process.js';
import { generateMarket, type SampleBar } from '../../scripts/sample-market.js';
import { featureConfig } from '../../services/feature/config.js';
import { startFeature } from '../../services/feature/service.js';
import { hashKey } from '../../services/gateway/api-keys.js';
import { ingestionConfig } from '../../services/ingestion/config.js';
import { startIngestion } from '../../services/ingestion/service.js';
import { monitoringConfig } from '../../services/monitoring/config.js';
import { startMonitoring } from '../../services/monitoring/service.js';
import { predictionConfig } from '../../services/prediction/config.js';
import { startPrediction } from '../../services/prediction/service.js';
import { DEFAULT_FEATURE_SET } from '../../services/feature/feature-sets/index.js';
import { registryConfig } from '../../services/registry/config.js';
import { startRegistry } from '../../services/registry/service.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { trainingConfig } from '../../services/training/config.js';
import { startTrainingService } from '../../services/training/service.js';

/** The served model's name. */
export const MODEL = 'nepse-linear';
/** A mean-reverting model on the recent log returns: next-session moves of a fraction of a percent. */
const WEIGHTS: Record<string, number> = { log_return_1d: -0.12, log_return_5d: 0.04, log_return_20d: -0.02 };
const WIDTH = DEFAULT_FEATURE_SET.features.length;

/** The rule that fires once any prediction is scored. */
export const RULE = 'live_error_watch';

/** Options of {@link startDashboardBed}. */
export interface DashboardBedOptions {
  /** The built dashboard the gateway serves at `/`. */
  webDir: string;
  /** Symbols of the sample market. Default 8. */
  symbols?: number;
  /** Sessions of history per symbol (past ohlcv_v1's 50-day warm-up). Default 120. */
  sessions?: number;
  /** Sessions held back from the history, ingested session by session by addBars(). Default 2. */
  heldBack?: number;
}

/** What the browser test talks to. */
export interface DashboardBed {
  /** The gateway's base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** A viewer key the gateway accepts. */
  readonly apiKey: string;
  /** Symbols ingested, in the market's order. */
  readonly symbols: readonly string[];
  /** Bars ingested so far, by symbol (ascending). */
  readonly bars: Map<string, SampleBar[]>;
  readonly ingestion: ServiceClient<typeof IngestionService>;
  /** Ingests the next held-back session of each symbol in one IngestBars call; resolves with the bars once stored. */
  addBars(symbols: readonly string[]): Promise<SampleBar[]>;
  stop(): Promise<void>;
}

/** Starts the bed; see the file comment. */
export async function startDashboardBed(options: DashboardBedOptions): Promise<DashboardBed> {
  const cleanup: Array<() => unknown> = [];
  const undo = async () => {
    for (const step of cleanup.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
  };
  try {
    const dataDir = await mkdtemp(join(tmpdir(), 'nepse-dashboard-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const nats: NatsTestServer = await startNatsServer();
    cleanup.push(() => nats.stop());

    // The market: recent sessions up to today, the last few held back for the test to ingest.
    const sessions = options.sessions ?? 120;
    const heldBack = options.heldBack ?? 2;
    const days = tradingDays(sessions, todayInNepal());
    const market = generateMarket(days, { symbols: options.symbols ?? 8 });
    const cut = days[days.length - heldBack];
    const symbols = [...new Set(market.map((b) => b.symbol))];
    const bars = new Map(symbols.map((s) => [s, market.filter((b) => b.symbol === s && b.date < cut)]));
    const pending = new Map(symbols.map((s) => [s, market.filter((b) => b.symbol === s && b.date >= cut)]));

    const rules = join(dataDir, 'rules.yaml');
    await writeFile(
      rules,
      `rules:\n  - name: ${RULE}\n    kind: live_error\n    severity: warning\n    k: 0.01\n    window_days: 3650\n    min_count: 1\n`,
    );
    const apiKey = `nepse_dash_${'k'.repeat(8)}${Date.now().toString(36)}`;
    const keys = join(dataDir, 'keys.yaml');
    await writeFile(keys, `keys:\n  - id: dash\n    principal: dashboard-test\n    role: viewer\n    sha256: ${hashKey(apiKey)}\n`);

    // Every address is known before anything starts, so the services start side by side.
    const names = ['ingestion', 'feature', 'registry', 'training', 'prediction', 'monitoring'] as const;
    const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()]))) as Record<
      (typeof names)[number],
      number
    >;
    const addr = (n: (typeof names)[number]) => `127.0.0.1:${ports[n]}`;
    const mesh = {
      NEPSE_INGESTION_ADDR: addr('ingestion'),
      NEPSE_FEATURE_ADDR: addr('feature'),
      NEPSE_REGISTRY_ADDR: addr('registry'),
      NEPSE_TRAINING_ADDR: addr('training'),
      NEPSE_PREDICTION_ADDR: addr('prediction'),
      NEPSE_MONITORING_ADDR: addr('monitoring'),
    };
    const env = { NATS_URL: nats.url, DATA_DIR: dataDir, LOG_LEVEL: 'error', BIND_HOST: '127.0.0.1', ...mesh };
    const extra: Record<string, Record<string, string>> = {
      monitoring: {
        MONITORING_RULES_FILE: rules,
        MONITORING_EVALUATE_INTERVAL_MS: '1000',
        MONITORING_EVALUATE_DEBOUNCE_MS: '50',
        MONITORING_HEARTBEAT_MS: '1000',
      },
      registry: { REGISTRY_OUTBOX_INTERVAL_MS: '200' },
    };
    // The services run in this process (one module load for all of them); the gateway in its own.
    const running: Array<{ stop(): Promise<void> }> = [];
    cleanup.push(async () => {
      for (const service of running.reverse()) await service.stop();
    });
    const config = (name: (typeof names)[number]) => ({
      ...env,
      ...extra[name],
      [`${name.toUpperCase()}_PORT`]: String(ports[name]),
      [`${name.toUpperCase()}_METRICS_PORT`]: '0',
    });
    const starters = {
      ingestion: () => startIngestion(ingestionConfig(config('ingestion'))),
      feature: () => startFeature(featureConfig(config('feature'))),
      registry: () => startRegistry(registryConfig(config('registry'))),
      training: () => startTrainingService(trainingConfig(config('training'))),
      prediction: () => startPrediction(predictionConfig(config('prediction'))),
      monitoring: () => startMonitoring(monitoringConfig(config('monitoring'))),
    };
    const start = async (name: (typeof names)[number]) => {
      running.push(await starters[name]());
    };
    // The stores first, side by side; then those that read the registry's Production list at start.
    await Promise.all((['ingestion', 'feature', 'registry'] as const).map(start));
    await Promise.all((['training', 'prediction', 'monitoring'] as const).map(start));

    const ingestion = createGrpcClient(IngestionService, mesh.NEPSE_INGESTION_ADDR, { defaultTimeoutMs: 60_000 });
    const features = createGrpcClient(FeatureService, mesh.NEPSE_FEATURE_ADDR);
    const registry = createGrpcClient(RegistryService, mesh.NEPSE_REGISTRY_ADDR);
    const prediction = createGrpcClient(PredictionService, mesh.NEPSE_PREDICTION_ADDR);
    cleanup.push(() => [ingestion, features, registry, prediction].forEach((c) => c.close()));

    const ingest = async (added: readonly SampleBar[]) => {
      const wire = added.map((b) => barMessage(b.symbol, b));
      const result = await ingestion.ingestBars(
        (function* () {
          for (let i = 0; i < wire.length; i += 500) yield { bars: wire.slice(i, i + 500), source: 'dashboard-test' };
        })(),
      );
      if (result.barsRejected > 0n)
        throw new Error(`ingestion refused ${result.barsRejected} bars: ${JSON.stringify(result.rejectedBars[0])}`);
    };
    const featuresAt = (symbol: string, day: string) =>
      waitFor(async () => dayOf((await features.getFeatures({ symbol })).vector?.date) === day, `features of ${symbol} on ${day}`, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });

    await ingest([...bars.values()].flat());
    const last = bars.get(symbols[0])!.at(-1)!.date;
    for (const symbol of symbols) await featuresAt(symbol, last);

    // A model with a walk-forward record beside both baselines, as training registers them.
    const metrics = (mae: number, accuracy: number) => ({
      count: 2400n,
      maeReturn: mae,
      rmseReturn: mae * 1.3,
      maeClose: mae * 400,
      rmseClose: mae * 520,
      mapeClose: mae,
      directionalAccuracy: accuracy,
    });
    const backtest = {
      foldCount: 5,
      overall: {
        model: metrics(0.0118, 0.541),
        baselines: [
          { baseline: Baseline.NO_CHANGE, metrics: metrics(0.0127, 0) },
          { baseline: Baseline.SMA5_DRIFT, metrics: metrics(0.0139, 0.497) },
        ],
      },
    };
    const registration = registrationFor(MODEL, WIDTH, {
      description: 'ridge on ohlcv_v1',
      backtest,
      trainingRange: { start: toProtoDate(days[0]), end: toProtoDate(cut) },
    });
    const { modelVersion } = await registry.registerModel(
      registerRequests(
        registration,
        linearModel({ width: WIDTH, weights: DEFAULT_FEATURE_SET.features.map((f) => WEIGHTS[f.name] ?? 0), bias: 0.0004 }),
      ),
    );
    await registry.transitionStage({
      name: MODEL,
      version: modelVersion!.version,
      targetStage: Stage.PRODUCTION,
      actor: 'dashboard-test',
      reason: 'serve it',
    });
    // Served once PredictBatch answers every symbol with it; these are the predictions the next bars score.
    await waitFor(
      async () => {
        const { results } = await prediction.predictBatch({ symbols, modelName: MODEL }, { timeoutMs: 5_000 });
        return results.every((r) => r.outcome.case === 'prediction' && r.outcome.value.modelVersion === modelVersion!.version);
      },
      'the model to be served',
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    const gateway = await startServiceProcess('gateway', {
      metricsPort: await freePort(),
      // Health checks get time to spare: the machine running the tests may be busy.
      env: { ...env, GATEWAY_WEB_DIR: options.webDir, GATEWAY_API_KEYS_FILE: keys, GATEWAY_STATUS_TIMEOUT_MS: '5000' },
      output: 'inherit',
    });
    cleanup.push(() => gateway.stop());

    return {
      url: `http://127.0.0.1:${gateway.port}`,
      apiKey,
      symbols,
      bars,
      ingestion,
      async addBars(wanted) {
        const added = wanted.map((symbol) => {
          const bar = pending.get(symbol)?.shift();
          if (!bar) throw new Error(`no held-back session of ${symbol} left`);
          return bar;
        });
        await ingest(added);
        for (const bar of added) bars.get(bar.symbol)!.push(bar);
        return added;
      },
      stop: undo,
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
