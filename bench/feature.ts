/**
 * Feature service: full recompute throughput for 200 symbols x 2,000 days fed as BarsIngested
 * events, then GetFeatures ("latest", served from memory) latency and throughput at concurrency
 * 1/16/64 over gRPC, beside a raw @grpc/grpc-js echo measured in the same run.
 * Run: `make bench ONLY=feature` or `npm run bench -- feature`.
 */
import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BarsIngestedSchema } from '../gen/nepse/events/v1/events_pb.js';
import { FeatureService, GetFeaturesRequestSchema } from '../gen/nepse/feature/v1/feature_pb.js';
import { MeshEvents } from '../lib/events/catalog.js';
import { connectEvents, ensureStreams, type EventBus } from '../lib/events/index.js';
import { startNatsServer } from '../lib/events/testing.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { toProtoDate } from '../lib/market/index.js';
import { startServiceProcess } from '../lib/runtime/service-process.js';
import { printTable, rate, secondsSince, waitForIdle } from './format.js';
import { measureRawEcho } from './grpc-echo.js';
import { runLoad } from './load.js';

const SYMBOLS = 200;
const DAYS = 2000;
const CONCURRENCIES = [1, 16, 64];

/**
 * 200 symbols x 2,000 days, one BarsIngested per symbol as the ingestion service sends them. Built
 * and dropped symbol by symbol, so the load phase later runs without 400k bars on this heap.
 */
async function publishHistories(bus: EventBus, symbols: readonly string[]): Promise<void> {
  for (const [s, symbol] of symbols.entries()) {
    let close = 100 + s;
    const bars = Array.from({ length: DAYS }, (_, d) => {
      const open = close;
      close = Math.max(1, close * (1 + Math.sin(s * 17 + d * 0.7) * 0.02));
      const date = new Date(Date.UTC(2015, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);
      return { symbol, date: toProtoDate(date), open, high: Math.max(open, close) * 1.01, low: Math.min(open, close) * 0.99, close, volume: 1000 + ((d * 37) % 500), turnover: (1000 + d) * close };
    });
    const event = create(BarsIngestedSchema, { symbol, bars, barsNew: BigInt(DAYS), batchId: 'bench', part: 1, partCount: 1 });
    await bus.publish(MeshEvents.barsIngested, symbol, event, { msgId: `bench-${symbol}` });
  }
}

export async function benchFeature(): Promise<void> {
  const echo = await measureRawEcho({ concurrencies: CONCURRENCIES, streamMessages: 20_000 });
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-bench-feature-'));
  const bus = await connectEvents({ servers: nats.url, name: 'bench' });
  await ensureStreams(bus);
  const service = await startServiceProcess('feature', { env: { NATS_URL: nats.url, DATA_DIR: dataDir } });
  const client = createGrpcClient(FeatureService, `127.0.0.1:${service.port}`);
  try {
    const symbols = Array.from({ length: SYMBOLS }, (_, s) => `SYM${String(s).padStart(3, '0')}`);
    const computed = new Set<string>();
    const done = new Promise<void>((resolve) => {
      void bus
        .consume(MeshEvents.featuresComputed, { durable: 'bench-features' }, async (event) => {
          computed.add(event.symbol);
          if (computed.size === SYMBOLS) resolve();
        })
        .then((subscription) => done.then(() => subscription.stop()));
    });
    const start = performance.now();
    await publishHistories(bus, symbols);
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('recompute did not finish within 120 s')), 120_000))]);
    const recompute = secondsSince(start);
    // ClickHouse merges the freshly written parts in the background; latency is measured after.
    const settled = await waitForIdle(service.child.pid!);

    const loads = [];
    const requests = symbols.map((symbol) => create(GetFeaturesRequestSchema, { symbol }));
    for (const concurrency of CONCURRENCIES) {
      let i = 0;
      loads.push({
        concurrency,
        ...(await runLoad({ concurrency, durationMs: 3_000, warmupMs: 500, call: () => client.getFeatures(requests[i++ % SYMBOLS], { timeoutMs: 10_000 }) })),
      });
    }
    printTable(`feature: GetFeatures (latest, from memory) beside raw grpc-js echo, ${echo.payloadBytes}-byte echo payloads${settled ? '' : ' (service still busy after the load)'}`, [
      ['in flight', 'GetFeatures/s', 'p50 ms', 'p99 ms', 'echo/s', 'echo p50 ms', 'echo p99 ms', 'throughput ratio', 'p99 ratio', 'errors'],
      ...loads.map((l) => {
        const e = echo.unary.find((u) => u.concurrency === l.concurrency)!;
        return [l.concurrency, rate(l.perSecond), l.p50Ms.toFixed(2), l.p99Ms.toFixed(2), rate(e.perSecond), e.p50Ms.toFixed(2), e.p99Ms.toFixed(2), (l.perSecond / e.perSecond).toFixed(2), (l.p99Ms / e.p99Ms).toFixed(2), l.errors];
      }),
    ]);
    printTable('feature: full recompute through the BarsIngested consumer', [
      ['symbols x days', 'bars', 'seconds', 'bars/s', 'aim'],
      [`${SYMBOLS} x ${DAYS}`, rate(SYMBOLS * DAYS), recompute.toFixed(2), rate((SYMBOLS * DAYS) / recompute), recompute < 10 ? 'under 10 s: met' : 'under 10 s: NOT met'],
    ]);
    const c16 = loads.find((l) => l.concurrency === 16)!;
    const e16 = echo.unary.find((u) => u.concurrency === 16)!;
    console.log(`  aims at concurrency 16: throughput >= 0.6x echo -> ${(c16.perSecond / e16.perSecond).toFixed(2)}x; p99 <= 1.5x echo -> ${(c16.p99Ms / e16.p99Ms).toFixed(2)}x`);
  } finally {
    client.close();
    await service.stop();
    await bus.close();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
