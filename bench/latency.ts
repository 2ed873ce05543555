/**
 * Bar → prediction latency: the time from IngestBars returning for one new bar to the
 * WatchPredictions message that carries the prediction from that bar's features, through real
 * ingestion, feature, registry and prediction processes and a real nats-server. Bars go one at a
 * time (the next once the previous one's prediction arrived), round-robin over the symbols, each
 * the next trading day of its symbol. Where the time goes is shown from the events themselves:
 * a plain NATS subscription in this process notes when BarsIngested and FeaturesComputed of each
 * bar pass. Also: what the prediction service's feature cache holds in memory per symbol with
 * 10,000 symbols cached.
 * Run: `make bench ONLY=latency`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BarsIngestedSchema, FeaturesComputedSchema } from '../gen/nepse/events/v1/events_pb.js';
import { IngestBarsRequestSchema, IngestionService } from '../gen/nepse/ingestion/v1/ingestion_pb.js';
import { PredictionService } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService, Stage } from '../gen/nepse/registry/v1/registry_pb.js';
import { connectEvents, ensureStreams } from '../lib/events/index.js';
import { startNatsServer } from '../lib/events/testing.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { dayOf, nextTradingDay, tradingDays, barMessage } from '../lib/market/index.js';
import { startServiceProcess, type ServiceProcess } from '../lib/runtime/service-process.js';
import { createLogger } from '../lib/telemetry/index.js';
import { generateMarket } from '../scripts/sample-market.js';
import { DEFAULT_FEATURE_SET } from '../services/feature/feature-sets/index.js';
import { FeatureCache } from '../services/prediction/feature-cache.js';
import { predictionMetrics } from '../services/prediction/metrics.js';
import { exportOnnx } from '../services/training/models/onnx-export.js';
import { trainRidge } from '../services/training/models/ridge.js';
import { plantedSignalDataset } from '../services/training/models/synthetic.js';
import { registerRequests, registrationFor } from '../testing/models.js';
import { printTable } from './format.js';
import { percentile } from './load.js';

const SYMBOLS = 30;
const BARS = Number(process.env.BENCH_LATENCY_BARS ?? 300);
/** New trading days per symbol that the history leaves room for before today. */
const ROOM = Math.ceil(BARS / SYMBOLS) + 2;
const WIDTH = DEFAULT_FEATURE_SET.features.length;
const CACHED_SYMBOLS = 10_000;

/** One bar's path, in ms after IngestBars returned (the events may pass before it returns). */
interface Timing {
  barsIngested: number;
  featuresComputed: number;
  pushed: number;
}

/** Bytes of heap and of resident memory per symbol with {@link CACHED_SYMBOLS} latest vectors cached, as FeaturesComputed brings them. */
async function cacheMemory(): Promise<{ heapPerSymbol: number; rssPerSymbol: number }> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const names = DEFAULT_FEATURE_SET.features.map((f) => f.name);
  const encoded = Array.from({ length: CACHED_SYMBOLS }, (_, s) =>
    toBinary(
      FeaturesComputedSchema,
      create(FeaturesComputedSchema, {
        symbol: `S${s}`,
        latest: {
          symbol: `S${s}`,
          date: { year: 2025, month: 3, day: 4 },
          featureSet: { name: DEFAULT_FEATURE_SET.name, version: DEFAULT_FEATURE_SET.version },
          names,
          values: names.map((_, i) => s / 7 + i / 3),
          close: 100 + s,
          computedAt: { seconds: 1n },
        },
      }),
    ),
  );
  const cache = new FeatureCache({ freshMs: 1_000, logger: createLogger('bench', 'silent'), metrics: predictionMetrics() });
  gc();
  const before = process.memoryUsage();
  encoded.forEach((bytes, s) => cache.remember(fromBinary(FeaturesComputedSchema, bytes).latest!, s + 1));
  for (let s = 0; s < CACHED_SYMBOLS; s++) cache.barsSeen(`S${s}`, 20250304, 0);
  gc();
  const after = process.memoryUsage();
  if (cache.count !== CACHED_SYMBOLS) throw new Error(`${cache.count} vectors cached`);
  return { heapPerSymbol: (after.heapUsed - before.heapUsed) / CACHED_SYMBOLS, rssPerSymbol: (after.rss - before.rss) / CACHED_SYMBOLS };
}

export async function benchLatency(): Promise<void> {
  const memory = await cacheMemory();
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-bench-latency-'));
  const env: Record<string, string> = { NATS_URL: nats.url, DATA_DIR: dataDir };
  const processes: ServiceProcess[] = [];
  const start = async (name: string, extra: Record<string, string> = {}) => {
    const service = await startServiceProcess(name, { env: { ...env, ...extra }, readyTimeoutMs: 180_000 });
    processes.push(service);
    return `127.0.0.1:${service.port}`;
  };
  const bus = await connectEvents({ servers: nats.url, name: 'bench-latency' });
  const controller = new AbortController();
  try {
    await ensureStreams(bus);
    // History up to ROOM trading days ago, ingested through IngestBars like the bars measured.
    let end = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    for (let i = 0; i < ROOM; i++) end = tradingDays(2, end)[0];
    const market = generateMarket(tradingDays(120, end), { symbols: SYMBOLS });
    const symbols = [...new Set(market.map((b) => b.symbol))];
    const last = new Map(market.map((b) => [b.symbol, b]));
    const ingestionAddr = await start('ingestion');
    const featureAddr = await start('feature');
    const registryAddr = await start('registry', { NEPSE_FEATURE_ADDR: featureAddr });
    const ingestion = createGrpcClient(IngestionService, ingestionAddr, { defaultTimeoutMs: 120_000 });
    const toWire = (b: (typeof market)[number]) => barMessage(b.symbol, b);
    await ingestion.ingestBars([create(IngestBarsRequestSchema, { bars: market.map(toWire), source: 'bench' })]);

    const { dataset } = plantedSignalDataset({ symbols: 20, days: 300, features: WIDTH });
    const model = exportOnnx(
      trainRidge(
        dataset.examples.map((e) => e.features),
        dataset.examples.map((e) => e.label),
      ),
      { featureCount: WIDTH },
    );
    const registry = createGrpcClient(RegistryService, registryAddr, { defaultTimeoutMs: 120_000 });
    const registered = await registry.registerModel(registerRequests(registrationFor('bench-latency', WIDTH), model));
    await registry.transitionStage({
      name: 'bench-latency',
      version: registered.modelVersion!.version,
      targetStage: Stage.PRODUCTION,
      reason: 'benchmark',
      actor: 'bench',
    });
    registry.close();
    const predictionAddr = await start('prediction', { NEPSE_FEATURE_ADDR: featureAddr, NEPSE_REGISTRY_ADDR: registryAddr });

    // Every symbol's history computed and announced before the clock starts.
    const prediction = createGrpcClient(PredictionService, predictionAddr, { defaultTimeoutMs: 60_000 });
    const warmUntil = Date.now() + 120_000;
    for (const symbol of symbols) {
      for (;;) {
        const p = await prediction.predict({ symbol }).catch(() => undefined);
        if (p?.prediction && dayOf(p.prediction.featureDate) === last.get(symbol)!.date) break;
        if (Date.now() > warmUntil) throw new Error(`the features of ${symbol} were not computed within 2 minutes`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    // Where each bar is: key `${symbol} ${date}`.
    const seen = new Map<string, { bars?: number; features?: number; pushed?: number; resolve?: () => void }>();
    const note = (key: string) => seen.get(key) ?? (seen.set(key, {}), seen.get(key)!);
    const eventTaps = ['nepse.v1.bars.ingested.>', 'nepse.v1.features.computed.>'].map((subject) =>
      bus.nc.subscribe(subject, {
        callback: (_, msg) => {
          const at = performance.now();
          if (subject.includes('features')) {
            const event = fromBinary(FeaturesComputedSchema, msg.data);
            note(`${event.symbol} ${dayOf(event.lastDate)}`).features ??= at;
          } else {
            const event = fromBinary(BarsIngestedSchema, msg.data);
            note(`${event.symbol} ${dayOf(event.lastDate)}`).bars ??= at;
          }
        },
      }),
    );
    const watch = prediction.watchPredictions({ symbols }, { signal: controller.signal, timeoutMs: 3_600_000 });
    const reading = (async () => {
      for await (const message of watch) {
        if (message.kind.case !== 'prediction') continue;
        const p = message.kind.value;
        const entry = note(`${p.symbol} ${dayOf(p.featureDate)}`);
        entry.pushed ??= performance.now();
        entry.resolve?.();
      }
    })().catch((error) => {
      if (!controller.signal.aborted) throw error;
    });
    await new Promise((r) => setTimeout(r, 500)); // the watch is open

    const timings: Timing[] = [];
    for (let i = 0; i < BARS; i++) {
      const symbol = symbols[i % symbols.length];
      const previous = last.get(symbol)!;
      const date = nextTradingDay(previous.date);
      const close = previous.close * (1 + 0.01 * Math.sin(i));
      const bar = {
        ...previous,
        date,
        open: previous.close,
        high: Math.max(previous.close, close) * 1.005,
        low: Math.min(previous.close, close) * 0.995,
        close,
      };
      last.set(symbol, bar);
      const key = `${symbol} ${date}`;
      const entry = note(key);
      const arrived = new Promise<void>((resolve) => (entry.resolve = resolve));
      const sent = performance.now();
      await ingestion.ingestBars([create(IngestBarsRequestSchema, { bars: [toWire(bar)], source: 'bench' })]);
      const returned = performance.now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        arrived,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no prediction pushed for ${key} within 30 s`)), 30_000))),
      ]);
      clearTimeout(timer);
      timings.push({
        barsIngested: (entry.bars ?? sent) - returned,
        featuresComputed: (entry.features ?? returned) - returned,
        pushed: entry.pushed! - returned,
      });
    }
    controller.abort();
    for (const tap of eventTaps) tap.unsubscribe();
    await reading;
    ingestion.close();
    prediction.close();

    const row = (label: string, values: number[]) => {
      const sorted = Float64Array.from(values).sort();
      return [label, percentile(sorted, 50).toFixed(1), percentile(sorted, 99).toFixed(1), sorted[sorted.length - 1].toFixed(1)];
    };
    printTable(
      `latency: one new bar through IngestBars → pushed WatchPredictions message, ${BARS} bars one at a time over ${SYMBOLS} symbols (ms after IngestBars returned)`,
      [
        ['step', 'p50 ms', 'p99 ms', 'max ms'],
        row(
          'BarsIngested published (negative: before IngestBars returned)',
          timings.map((t) => t.barsIngested),
        ),
        row(
          'FeaturesComputed published',
          timings.map((t) => t.featuresComputed),
        ),
        row(
          'prediction pushed on WatchPredictions',
          timings.map((t) => t.pushed),
        ),
        row(
          '  of which feature service (BarsIngested → FeaturesComputed)',
          timings.map((t) => t.featuresComputed - t.barsIngested),
        ),
        row(
          '  of which prediction service (FeaturesComputed → pushed)',
          timings.map((t) => t.pushed - t.featuresComputed),
        ),
      ],
    );
    printTable(
      `latency: the prediction service's feature cache with ${CACHED_SYMBOLS.toLocaleString('en-US')} symbols (latest ${WIDTH}-feature vector of each, and its latest bars)`,
      [
        ['heap bytes per symbol', 'RSS bytes per symbol', `heap for ${CACHED_SYMBOLS.toLocaleString('en-US')} symbols`],
        [
          Math.round(memory.heapPerSymbol),
          Math.round(memory.rssPerSymbol),
          `${((memory.heapPerSymbol * CACHED_SYMBOLS) / 1024 / 1024).toFixed(1)} MiB`,
        ],
      ],
    );
    const p99 = percentile(Float64Array.from(timings.map((t) => t.pushed)).sort(), 99);
    console.log(`  aim: bar → pushed prediction p99 < 50 ms -> ${p99.toFixed(1)} ms`);
  } finally {
    controller.abort();
    for (const p of processes.reverse()) await p.stop();
    await bus.close();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
