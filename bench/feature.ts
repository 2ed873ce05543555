/**
 * Feature service: full recompute throughput for 200 symbols x 2,000 days fed as BarsIngested
 * events; appending one day to 300 symbols of 2,000 days each (one event per symbol, as ingestion
 * sends a day's closes), timed until every symbol's FeaturesComputed for that day; then GetFeatures ("latest", served from memory) latency and throughput at concurrency
 * 1/16/64 over gRPC through the typed client, beside a raw @grpc/grpc-js echo in rounds alternating
 * with GetFeatures' at each level (bench/rounds.ts), both servers primed first. Each recompute
 * phase also reports the CPU seconds the service process used (all its threads: main, vector
 * workers, the embedded engine), which a loaded machine inflates far less than wall time.
 * FEATURE_WORKERS in the environment sets the service's worker threads (default: the cores Node sees).
 * Run: `make bench ONLY=feature` or `npm run bench -- feature`.
 */
import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BarsIngestedSchema } from '../gen/nepse/events/v1/events_pb.js';
import { FeatureService, GetFeaturesRequestSchema } from '../gen/nepse/feature/v1/feature_pb.js';
import { MeshEvents } from '../lib/events/catalog.js';
import { connectEvents, ensureStreams, type EventBus } from '../lib/events/index.js';
import { startNatsServer } from '../lib/events/testing.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { toProtoDate } from '../lib/market/index.js';
import { startServiceProcess } from '../lib/runtime/service-process.js';
import { printTable, processCpuSeconds, rate, secondsSince, waitForIdle } from './format.js';
import { createEchoClient, echoUnary, startEchoProcess } from './grpc-echo.js';
import { runLoad } from './load.js';
import { alternate, loadRound, PAIRS, pairRatio, PRIME_MS, ROUND_MS } from './rounds.js';

const SYMBOLS = 200;
const DAYS = 2000;
/** Symbols the appended day covers: the first SYMBOLS plus more of the same history length. */
const APPEND_SYMBOLS = 300;
const CONCURRENCIES = [1, 16, 64];

/**
 * 200 symbols x 2,000 days, one BarsIngested per symbol as the ingestion service sends them. Built
 * and dropped symbol by symbol, so the load phase later runs without 400k bars on this heap.
 */
async function publishHistories(bus: EventBus, symbols: readonly string[], firstIndex = 0): Promise<void> {
  for (const [i, symbol] of symbols.entries()) {
    const bars = Array.from({ length: DAYS }, (_, d) => barOf(firstIndex + i, symbol, d));
    const event = create(BarsIngestedSchema, { symbol, bars, barsNew: BigInt(DAYS), batchId: 'bench', part: 1, partCount: 1 });
    await bus.publish(MeshEvents.barsIngested, symbol, event, { msgId: `bench-${symbol}` });
  }
}

/** Bar `d` of symbol number `s`: a deterministic walk, so the appended day follows its history. */
function barOf(s: number, symbol: string, d: number) {
  const close = (k: number) => Math.max(1, 100 + s + 10 * Math.sin(s * 17 + k * 0.7) + k * 0.01);
  const open = close(d - 1);
  const date = new Date(Date.UTC(2015, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);
  return {
    symbol,
    date: toProtoDate(date),
    open,
    high: Math.max(open, close(d)) * 1.01,
    low: Math.min(open, close(d)) * 0.99,
    close: close(d),
    volume: 1000 + ((d * 37) % 500),
    turnover: (1000 + d) * close(d),
  };
}

/** Publishes day `DAYS` of every symbol, one event each, and waits until each has its vector of that day. */
async function appendOneDay(bus: EventBus, symbols: readonly string[], computedOn: (date: string) => Promise<void>): Promise<number> {
  const date = new Date(Date.UTC(2015, 0, 1) + DAYS * 86_400_000).toISOString().slice(0, 10);
  const done = computedOn(date);
  const events = symbols.map((symbol, s) =>
    create(BarsIngestedSchema, { symbol, bars: [barOf(s, symbol, DAYS)], barsNew: 1n, batchId: 'bench-append', part: 1, partCount: 1 }),
  );
  const start = performance.now();
  // Side by side, as the ingestion service publishes a day's closes.
  await Promise.all(
    events.map((event) => bus.publish(MeshEvents.barsIngested, event.symbol, event, { msgId: `bench-append-${event.symbol}` })),
  );
  await Promise.race([
    done,
    new Promise((_, reject) => setTimeout(() => reject(new Error('the appended day was not computed within 60 s')), 60_000)),
  ]);
  return secondsSince(start);
}

export async function benchFeature(): Promise<void> {
  const echo = await startEchoProcess();
  const echoClient = createEchoClient(`127.0.0.1:${echo.port}`);
  const payload = Buffer.alloc(128, 'nepse-');
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-bench-feature-'));
  const bus = await connectEvents({ servers: nats.url, name: 'bench' });
  await ensureStreams(bus);
  const workers = process.env.FEATURE_WORKERS ?? String(availableParallelism());
  const service = await startServiceProcess('feature', { env: { NATS_URL: nats.url, DATA_DIR: dataDir, FEATURE_WORKERS: workers } });
  const serviceCpu = () => processCpuSeconds(service.child.pid!);
  const client = createGrpcClient(FeatureService, `127.0.0.1:${service.port}`);
  try {
    const allSymbols = Array.from({ length: APPEND_SYMBOLS }, (_, s) => `SYM${String(s).padStart(3, '0')}`);
    const symbols = allSymbols.slice(0, SYMBOLS);
    // Per last day of the FeaturesComputed events: the symbols heard of, and who waits for how many.
    const heard = new Map<string, Set<string>>();
    const waiting: { date: string; count: number; resolve: () => void }[] = [];
    const subscription = await bus.consume(MeshEvents.featuresComputed, { durable: 'bench-features' }, async (event) => {
      const date = `${event.lastDate!.year}-${String(event.lastDate!.month).padStart(2, '0')}-${String(event.lastDate!.day).padStart(2, '0')}`;
      let set = heard.get(date);
      if (!set) heard.set(date, (set = new Set()));
      set.add(event.symbol);
      for (const w of waiting) if (w.date === date && set.size >= w.count) w.resolve();
    });
    const computedOn = (date: string, count: number) => new Promise<void>((resolve) => waiting.push({ date, count, resolve }));
    const lastHistoryDay = new Date(Date.UTC(2015, 0, 1) + (DAYS - 1) * 86_400_000).toISOString().slice(0, 10);

    await waitForIdle(service.child.pid!);
    const load = loadavg()[0];
    const done = computedOn(lastHistoryDay, SYMBOLS);
    const start = performance.now();
    const startCpu = serviceCpu();
    await publishHistories(bus, symbols);
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error('recompute did not finish within 120 s')), 120_000)),
    ]);
    const recompute = secondsSince(start);
    const recomputeCpu = serviceCpu() - startCpu;

    // 100 more symbols of the same length, then one new day for all 300.
    const more = computedOn(lastHistoryDay, APPEND_SYMBOLS);
    await publishHistories(bus, allSymbols.slice(SYMBOLS), SYMBOLS);
    await Promise.race([
      more,
      new Promise((_, reject) => setTimeout(() => reject(new Error('recompute did not finish within 120 s')), 120_000)),
    ]);
    await waitForIdle(service.child.pid!);
    const appendStartCpu = serviceCpu();
    const append = await appendOneDay(bus, allSymbols, (date) => computedOn(date, APPEND_SYMBOLS));
    const appendCpu = serviceCpu() - appendStartCpu;
    await subscription.stop();
    // ClickHouse merges the freshly written parts in the background; latency is measured after.
    const settled = await waitForIdle(service.child.pid!);

    const requests = symbols.map((symbol) => create(GetFeaturesRequestSchema, { symbol }));
    let i = 0;
    const getFeatures = () => client.getFeatures(requests[i++ % SYMBOLS], { timeoutMs: 10_000 });
    const echoCall = () => echoUnary(echoClient, payload, 10_000);
    await runLoad({ concurrency: 16, durationMs: PRIME_MS, call: echoCall });
    await runLoad({ concurrency: 16, durationMs: PRIME_MS, call: getFeatures });
    const levels = [];
    for (const concurrency of CONCURRENCIES) {
      const { a: e, b: f } = await alternate(
        PAIRS,
        () => loadRound(concurrency, echoCall, echo.cpuSeconds),
        () => loadRound(concurrency, getFeatures, serviceCpu),
      );
      levels.push({
        concurrency,
        echo: e,
        features: f,
        throughput: pairRatio(e, f, (r) => r.perSecond),
        p99: pairRatio(e, f, (r) => r.p99Ms),
      });
    }
    printTable(
      `feature: GetFeatures (latest, from memory) through the typed client beside the raw grpc-js echo (128-byte payloads), ${PAIRS} rounds of ${ROUND_MS / 1000} s each alternating echo and GetFeatures at each level, both primed; ratios are medians over the pairs${settled ? '' : ' (service still busy after the load)'}`,
      [
        [
          'in flight',
          'GetFeatures/s',
          'p50 ms',
          'p99 ms',
          'echo/s',
          'echo p50 ms',
          'echo p99 ms',
          'throughput ratio',
          'p99 ratio',
          'errors',
        ],
        ...levels.map((l) => [
          l.concurrency,
          rate(l.features.perSecond),
          l.features.p50Ms.toFixed(2),
          l.features.p99Ms.toFixed(2),
          rate(l.echo.perSecond),
          l.echo.p50Ms.toFixed(2),
          l.echo.p99Ms.toFixed(2),
          l.throughput.toFixed(2),
          l.p99.toFixed(2),
          l.features.errors,
        ]),
      ],
    );
    printTable(
      `feature: recompute through the BarsIngested consumer, ${workers} vector worker thread(s), ` +
        `load average ${load.toFixed(1)} on ${availableParallelism()} cores at the start`,
      [
        ['phase', 'bars', 'seconds', 'bars/s', 'service CPU s', 'bars per CPU s', 'aim'],
        [
          `full: ${SYMBOLS} x ${DAYS}`,
          rate(SYMBOLS * DAYS),
          recompute.toFixed(2),
          rate((SYMBOLS * DAYS) / recompute),
          recomputeCpu.toFixed(2),
          rate((SYMBOLS * DAYS) / recomputeCpu),
          recompute < 10 ? 'under 10 s: met' : 'under 10 s: NOT met',
        ],
        [
          `append 1 day to ${APPEND_SYMBOLS} x ${DAYS}`,
          rate(APPEND_SYMBOLS),
          append.toFixed(2),
          rate(APPEND_SYMBOLS / append),
          appendCpu.toFixed(2),
          rate(APPEND_SYMBOLS / appendCpu),
          append < 1 ? 'under 1 s: met' : 'under 1 s: NOT met',
        ],
      ],
    );
    const c16 = levels.find((l) => l.concurrency === 16)!;
    console.log(
      `  aims at concurrency 16: throughput >= 0.6x echo -> ${c16.throughput.toFixed(2)}x; p99 <= 1.5x echo -> ${c16.p99.toFixed(2)}x`,
    );
  } finally {
    client.close();
    echoClient.close();
    await echo.stop();
    await service.stop();
    await bus.close();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
