/**
 * Monitoring: how fast the monitoring service works off PredictionsMade, beside the rate at which
 * the prediction service can make predictions (Predict at concurrency 64, same run, driven as in
 * bench/prediction.ts).
 *
 * Two figures. Live: monitoring consumes the prediction service's own events while Predict runs
 * at concurrency 64; how far behind it is when the load stops, and how long it takes to catch up.
 * Backlog: one-prediction events (the worst case: every event a new (symbol, day), every one
 * scorable against a known bar) are published to a real nats-server while monitoring is stopped;
 * monitoring then starts as its own process on embedded ClickHouse and the drain is timed until
 * its durable has nothing pending (every message is acked only once its predictions are scored).
 * Run: `make bench ONLY=monitoring`; BENCH_MONITORING_SYMBOLS x BENCH_MONITORING_DAYS (200 x 250)
 * size the backlog.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BarsIngestedSchema, PredictionsMadeSchema } from '../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../lib/events/catalog.js';
import { connectEvents, ensureStreams, EVENTS_STREAM, eventSubject, NO_KEY, type EventBus } from '../lib/events/index.js';
import { startNatsServer } from '../lib/events/testing.js';
import { toProtoDate, tradingDays } from '../lib/market/index.js';
import { startServiceProcess, type ServiceProcess } from '../lib/runtime/service-process.js';
import { printTable, processCpuSeconds, rate } from './format.js';
import type { LoadResult } from './load.js';
import { benchModel, measurePredict, startPredictionRig } from './prediction.js';

const SYMBOLS = Number(process.env.BENCH_MONITORING_SYMBOLS ?? 200);
const DAYS = Number(process.env.BENCH_MONITORING_DAYS ?? 250);
const FEATURES = 25;
/** The durable monitoring consumes PredictionsMade with (services/monitoring/consumers.ts). */
const DURABLE = 'monitoring-predictions';

const symbolName = (s: number) => `MON${String(s).padStart(3, '0')}`;
const closeOf = (s: number, d: number) => 100 + s + 10 * Math.sin(s * 7 + d / 5);

/** Publishes `count` messages with at most `window` PubAcks awaited at once. */
async function publishAll(count: number, window: number, publish: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < count) await publish(next++);
    }),
  );
}

/** Bars of every symbol for every day, one BarsIngested per symbol. */
async function publishBars(bus: EventBus, days: readonly string[]): Promise<void> {
  await publishAll(SYMBOLS, 16, (s) => {
    const symbol = symbolName(s);
    const bars = days.map((date, d) => ({
      symbol,
      date: toProtoDate(date),
      open: closeOf(s, d),
      high: closeOf(s, d),
      low: closeOf(s, d),
      close: closeOf(s, d),
      volume: 1000,
    }));
    return bus.publish(
      MeshEvents.barsIngested,
      symbol,
      create(BarsIngestedSchema, {
        symbol,
        bars,
        firstDate: toProtoDate(days[0]),
        lastDate: toProtoDate(days.at(-1)!),
        barsNew: BigInt(days.length),
        part: 1,
        partCount: 1,
        batchId: `bench-${symbol}`,
        source: 'bench',
        occurredAt: timestampFromMs(Date.now()),
      }),
      { msgId: `bench-bars-${symbol}` },
    );
  });
}

/** One PredictionsMade per (day, symbol), day by day as a prediction service would send them. */
async function publishPredictions(bus: EventBus, days: readonly string[]): Promise<void> {
  const features = Array.from({ length: FEATURES }, (_, i) => i / FEATURES);
  await publishAll(SYMBOLS * DAYS, 256, (i) => {
    const d = Math.floor(i / SYMBOLS);
    const s = i % SYMBOLS;
    const baseClose = closeOf(s, d);
    const predictedReturn = Math.sin(i) * 0.01;
    const event = create(PredictionsMadeSchema, {
      predictions: [
        {
          predictionId: `bench-${i}`,
          modelName: 'bench',
          modelVersion: 1,
          symbol: symbolName(s),
          featureDate: toProtoDate(days[d]),
          predictedReturn,
          predictedClose: baseClose * Math.exp(predictedReturn),
          baseClose,
          latencyMs: 1,
          instanceId: 'bench',
          occurredAt: timestampFromMs(Date.now()),
          features,
        },
      ],
    });
    return bus.publish(MeshEvents.predictionsMade, NO_KEY, event, { msgId: `bench-prediction-${i}` });
  });
}

/** Messages the durable has not settled: not yet delivered plus delivered and unacknowledged. */
async function backlog(bus: EventBus, durable: string): Promise<number> {
  const lag = await bus.consumerLag(durable);
  return lag.pending + lag.ackPending;
}

/** A counter from a service's /metrics, summed over its label sets. */
async function counterSum(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Polls every 100 ms until `done()` or `timeoutMs`; returns whether it got there. */
async function until(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** What one drain measured. */
export interface MonitoringDrain {
  events: number;
  seconds: number;
  perSecond: number;
  /** Predictions scored by the service over the drain, and how many there were to score. */
  scored: number;
  expected: number;
  /** CPU of the monitoring process over the drain, as a percentage of one core. */
  cpuPercent: number;
}

/** Publishes the backlog with monitoring stopped, then times monitoring working it off. */
export async function measureMonitoringDrain(): Promise<MonitoringDrain> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-bench-monitoring-'));
  // Nothing listens on port 1: the registry's figures are not what is measured here.
  const env = { NATS_URL: nats.url, DATA_DIR: dataDir, NEPSE_REGISTRY_ADDR: '127.0.0.1:1', LOG_LEVEL: 'error' };
  const bus = await connectEvents({ servers: nats.url, name: 'bench' });
  let monitoring: ServiceProcess | undefined;
  try {
    await ensureStreams(bus);
    const days = tradingDays(DAYS + 1, '2024-12-31');
    // The bars first, consumed while nothing is predicted yet; then the service stops.
    monitoring = await startServiceProcess('monitoring', { env });
    await publishBars(bus, days);
    if (!(await until(async () => (await backlog(bus, 'monitoring-bars')) === 0, 120_000)))
      throw new Error('monitoring did not take the bars within 120 s');
    await monitoring.stop();
    monitoring = undefined;
    await publishPredictions(bus, days.slice(0, DAYS));
    const events = SYMBOLS * DAYS;

    monitoring = await startServiceProcess('monitoring', { env });
    const pid = monitoring.child.pid!;
    const start = performance.now();
    const cpuBefore = processCpuSeconds(pid);
    const pendingAtStart = await backlog(bus, DURABLE);
    if (!(await until(async () => (await backlog(bus, DURABLE)) === 0, 900_000)))
      throw new Error(`monitoring did not drain ${events} events within 900 s`);
    const seconds = (performance.now() - start) / 1000;
    const cpuPercent = ((processCpuSeconds(pid) - cpuBefore) / seconds) * 100;
    const scored = await counterSum(monitoring.metricsPort, 'nepse_monitoring_predictions_scored_total');
    return { events: pendingAtStart, seconds, perSecond: pendingAtStart / seconds, scored, expected: events, cpuPercent };
  } finally {
    await monitoring?.stop();
    await bus.close();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** PredictionsMade stored in the stream so far. */
async function predictionsEvents(bus: EventBus): Promise<number> {
  const subject = eventSubject(MeshEvents.predictionsMade, NO_KEY);
  const info = await bus.jsm.streams.info(EVENTS_STREAM, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

/** What the live run measured. */
interface LiveRun {
  predictPerSecond: number;
  events: number;
  eventsPerSecond: number;
  predictionsPerEvent: number;
  behindAtEnd: number;
  catchUpSeconds: number;
}

/**
 * Predict at concurrency 64 on its own, then again for `durationMs` with monitoring consuming
 * the events it publishes: events published, monitoring's backlog when the load stops, and the
 * time it takes to work that off.
 */
async function measureLive(durationMs: number): Promise<{ predict: LoadResult; live: LiveRun }> {
  const rig = await startPredictionRig(benchModel());
  const bus = await connectEvents({ servers: rig.natsUrl, name: 'bench-monitoring' });
  try {
    const prediction = await rig.startPrediction();
    const predict = await measurePredict(prediction.port, rig.symbols, 64);
    await rig.startService('monitoring', { LOG_LEVEL: 'error' });
    if (!(await until(async () => (await backlog(bus, DURABLE)) === 0, 60_000)))
      throw new Error('monitoring did not catch up with the first run within 60 s');
    const before = await predictionsEvents(bus);
    const load = await measurePredict(prediction.port, rig.symbols, 64, durationMs);
    const stopped = performance.now();
    const behindAtEnd = await backlog(bus, DURABLE);
    if (!(await until(async () => (await backlog(bus, DURABLE)) === 0, 300_000)))
      throw new Error('monitoring did not catch up within 300 s');
    const catchUpSeconds = (performance.now() - stopped) / 1000;
    const events = (await predictionsEvents(bus)) - before;
    return {
      predict,
      live: {
        predictPerSecond: load.perSecond,
        events,
        eventsPerSecond: events / load.seconds,
        predictionsPerEvent: events ? load.requests / events : 0,
        behindAtEnd,
        catchUpSeconds,
      },
    };
  } finally {
    await bus.close();
    await rig.stop();
  }
}

export async function benchMonitoring(): Promise<void> {
  const { predict, live } = await measureLive(10_000);
  const drain = await measureMonitoringDrain();
  printTable(
    'monitoring: Predict at concurrency 64 for 10 s with monitoring consuming the PredictionsMade it publishes (all processes on this machine)',
    [
      ['Predict/s', 'events/s published', 'predictions per event', 'monitoring behind at the end (events)', 'caught up after s'],
      [
        rate(live.predictPerSecond),
        rate(live.eventsPerSecond),
        live.predictionsPerEvent.toFixed(1),
        rate(live.behindAtEnd),
        live.catchUpSeconds.toFixed(1),
      ],
    ],
  );
  printTable(
    `monitoring: a backlog of ${rate(drain.events)} PredictionsMade (one new, scorable prediction each) worked off on embedded ClickHouse, beside Predict at concurrency 64 alone`,
    [
      ['monitoring events/s', 'seconds', 'scored', 'monitoring CPU %', 'Predict/s c64', 'ratio'],
      [
        rate(drain.perSecond),
        drain.seconds.toFixed(1),
        rate(drain.scored),
        drain.cpuPercent.toFixed(0),
        rate(predict.perSecond),
        (drain.perSecond / predict.perSecond).toFixed(2),
      ],
    ],
  );
  console.log(
    `  aim: monitoring events/s >= Predict/s at c64 (one event per prediction, the worst case) -> ${(drain.perSecond / predict.perSecond).toFixed(2)}x; every prediction scored once -> ${drain.scored === drain.expected ? 'yes' : `no (${drain.scored} of ${drain.expected})`}`,
  );
}
