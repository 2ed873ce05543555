/**
 * Prediction service: Predict req/s and p50/p99 at concurrency 1/16/64 and StreamPredictions
 * predictions/s (one symbol per request, and many), beside a raw @grpc/grpc-js echo (measured
 * just before Predict at each concurrency, with both servers' CPU per call) and raw
 * onnxruntime-node throughput measured in the same run; micro-batching on versus off at
 * concurrency 64. The service and the echo are driven by the same raw client
 * (bench/raw-client.ts); the typed client's figures are printed too.
 * Run: `make bench ONLY=prediction`. A shadow model's cost is measured apart (bench/prediction-shadow.ts).
 */
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { BarsIngestedSchema } from '../gen/nepse/events/v1/events_pb.js';
import {
  PredictionService,
  PredictRequestSchema,
  PredictResponseSchema,
  StreamPredictionsRequestSchema,
} from '../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService, Stage } from '../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../lib/events/catalog.js';
import { connectEvents, ensureStreams } from '../lib/events/index.js';
import { startNatsServer } from '../lib/events/testing.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { barMessage, tradingDays } from '../lib/market/index.js';
import { startServiceProcess, type ServiceProcess } from '../lib/runtime/service-process.js';
import { generateMarket } from '../scripts/sample-market.js';
import { registerRequests, registrationFor } from '../testing/models.js';
import { exportOnnx } from '../services/training/models/onnx-export.js';
import { trainRidge } from '../services/training/models/ridge.js';
import { plantedSignalDataset } from '../services/training/models/synthetic.js';
import { printTable, processCpuSeconds, rate, waitForIdle } from './format.js';
import { createEchoClient, echoUnary, measureRawEcho, startEchoProcess, type EchoClient, type EchoProcess } from './grpc-echo.js';
import { duplexFromIterable, runLoad, runStreamLoad, type DuplexLike, type LoadResult } from './load.js';
import { createRawClient, rawUnary, topLevelFields } from './raw-client.js';

const CONCURRENCIES = [1, 16, 64];
const FEATURES = 25;
/** Symbols per StreamPredictions request in the batched run, and requests in flight there. */
const STREAM_BATCH = 64;
const STREAM_BATCH_WINDOW = 16;

/** Raw onnxruntime-node: single-row runs per second and rows per second in batches of 64. */
async function rawOnnx(model: Uint8Array): Promise<{ single: number; batched: number }> {
  const session = await ort.InferenceSession.create(model);
  const measure = async (rows: number) => {
    const input = new ort.Tensor('float32', new Float32Array(rows * FEATURES).fill(0.1), [rows, FEATURES]);
    let runs = 0;
    const stop = performance.now() + 2000;
    while (performance.now() < stop) {
      await session.run({ features: input });
      runs++;
    }
    return (runs * rows) / 2;
  };
  const result = { single: await measure(1), batched: await measure(64) };
  await session.release();
  return result;
}

/** A ridge model of {@link FEATURES} features as ONNX, trained on a planted signal. */
export function benchModel(): Uint8Array {
  const { dataset } = plantedSignalDataset({ symbols: 20, days: 300, features: FEATURES });
  return exportOnnx(
    trainRidge(
      dataset.examples.map((e) => e.features),
      dataset.examples.map((e) => e.label),
    ),
    { featureCount: FEATURES },
  );
}

/** What a prediction service needs around it, running: nats-server, feature and registry processes, bars of 30 symbols, `model` in Production. */
export interface PredictionRig {
  readonly natsUrl: string;
  /** NATS_URL, DATA_DIR, NEPSE_FEATURE_ADDR and NEPSE_REGISTRY_ADDR for services started beside it. */
  readonly env: Record<string, string>;
  readonly feature: ServiceProcess;
  readonly symbols: readonly string[];
  /** Starts a prediction process (env added to the rig's) and waits until it answers Predict; stopped with the rig. */
  startPrediction(extra?: Record<string, string>): Promise<ServiceProcess>;
  /** Starts another service process on the rig (env added to the rig's); stopped with the rig. */
  startService(name: string, extra?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Starts a {@link PredictionRig} serving `model`. */
export async function startPredictionRig(model: Uint8Array): Promise<PredictionRig> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-bench-prediction-'));
  const env: Record<string, string> = { NATS_URL: nats.url, DATA_DIR: dataDir };
  const processes: ServiceProcess[] = [];
  const bus = await connectEvents({ servers: nats.url, name: 'bench' });
  const stop = async () => {
    for (const p of processes.reverse()) await p.stop();
    await bus.close();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await ensureStreams(bus);
    const feature = await startServiceProcess('feature', { env });
    processes.push(feature);
    const featureAddr = `127.0.0.1:${feature.port}`;
    // PGlite's first start is slow on a busy machine: allow it more than the default 90 s.
    const registryProcess = await startServiceProcess('registry', {
      env: { ...env, NEPSE_FEATURE_ADDR: featureAddr },
      readyTimeoutMs: 180_000,
    });
    processes.push(registryProcess);
    const registryAddr = `127.0.0.1:${registryProcess.port}`;

    // Bars for 30 symbols, then a model in Production.
    const days = tradingDays(120, new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
    const market = generateMarket(days, { symbols: 30 });
    const symbols = [...new Set(market.map((b) => b.symbol))];
    for (const symbol of symbols) {
      const bars = market.filter((b) => b.symbol === symbol).map((b) => barMessage(symbol, b));
      await bus.publish(
        MeshEvents.barsIngested,
        symbol,
        create(BarsIngestedSchema, { symbol, bars, batchId: 'bench', part: 1, partCount: 1 }),
        { msgId: `bench-${symbol}` },
      );
    }
    const registry = createGrpcClient(RegistryService, registryAddr, { defaultTimeoutMs: 60_000 });
    const registered = await registry.registerModel(registerRequests(registrationFor('bench-ridge', FEATURES), model));
    await registry.transitionStage({
      name: 'bench-ridge',
      version: registered.modelVersion!.version,
      targetStage: Stage.PRODUCTION,
      reason: 'benchmark',
      actor: 'bench',
    });
    registry.close();
    Object.assign(env, { NEPSE_FEATURE_ADDR: featureAddr, NEPSE_REGISTRY_ADDR: registryAddr });
    const startService = async (name: string, extra: Record<string, string> = {}) => {
      const service = await startServiceProcess(name, { env: { ...env, ...extra } });
      processes.push(service);
      return service;
    };
    const startPrediction = async (extra: Record<string, string> = {}) => {
      const service = await startService('prediction', extra);
      const client = createGrpcClient(PredictionService, `127.0.0.1:${service.port}`);
      const deadline = Date.now() + 60_000;
      try {
        for (;;) {
          try {
            await client.predict({ symbol: symbols[0] });
            break;
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        client.close();
      }
      await waitForIdle(feature.child.pid!);
      return service;
    };
    return { natsUrl: nats.url, env, feature, symbols, startPrediction, startService, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Predict through the echo's raw client (requests encoded once, responses counted, every 100th
 * decoded and checked) at `concurrency` for `durationMs` after a 500 ms warm-up; `calls` counts the
 * answers of the warm-up too (the denominator of a server's CPU per call over the whole run).
 */
export async function measurePredict(
  port: number,
  symbols: readonly string[],
  concurrency: number,
  durationMs = 3_000,
): Promise<LoadResult & { calls: number }> {
  const raw = createRawClient(`127.0.0.1:${port}`, [PredictionService.method.predict]);
  const encoded = symbols.map((symbol) => Buffer.from(toBinary(PredictRequestSchema, create(PredictRequestSchema, { symbol }))));
  let calls = 0;
  const rawPredict = async () => {
    const bytes = await rawUnary(raw, PredictionService.method.predict, encoded[calls % encoded.length], 10_000);
    if (calls++ % 100 === 0 && !fromBinary(PredictResponseSchema, bytes).prediction?.symbol)
      throw new Error('a Predict response without a prediction');
  };
  try {
    return { ...(await runLoad({ concurrency, durationMs, warmupMs: 500, call: rawPredict })), calls };
  } finally {
    raw.close();
  }
}

/** Microseconds of `cpuSeconds` (a process's CPU time so far) that `run` uses per call it reports. */
async function cpuPerCall<R extends { calls: number }>(cpuSeconds: () => number, run: () => Promise<R>): Promise<R & { cpuUs: number }> {
  const before = cpuSeconds();
  const result = await run();
  return { ...result, cpuUs: ((cpuSeconds() - before) / result.calls) * 1e6 };
}

export async function benchPrediction(): Promise<void> {
  // The unary echo is measured level by level just before Predict (see measureService), so the
  // two sides of each ratio meet the same load on this shared machine; this one is for the bidi echo.
  const echo = await measureRawEcho({ concurrencies: [] });
  const model = benchModel();
  const onnx = await rawOnnx(model);
  const rig = await startPredictionRig(model);
  const { symbols } = rig;
  let echoProcess: EchoProcess | undefined;
  let echoClient: EchoClient | undefined;
  try {
    const echoing = (echoProcess = await startEchoProcess());
    const client = (echoClient = createEchoClient(`127.0.0.1:${echoing.port}`));
    const payload = Buffer.alloc(128, 'nepse-');
    const echoCall = () => echoUnary(client, payload, 10_000);
    const echoLevel = (concurrency: number) =>
      cpuPerCall(echoing.cpuSeconds, async () => {
        let calls = 0;
        const call = () => echoCall().then(() => void calls++);
        return { ...(await runLoad({ concurrency, durationMs: 3_000, warmupMs: 500, call })), calls };
      });
    const measureService = async (label: string, extra: Record<string, string>) => {
      const service = await rig.startPrediction(extra);
      const client = createGrpcClient(PredictionService, `127.0.0.1:${service.port}`);
      const requests = symbols.map((symbol) => create(PredictRequestSchema, { symbol }));
      // The server-side figures use the echo's client. The typed client's own cost is shown in a row of its own.
      const raw = createRawClient(`127.0.0.1:${service.port}`, [PredictionService.method.streamPredictions]);
      const loads = [];
      const cpu = () => processCpuSeconds(service.child.pid!);
      // The echo process starts cold (JIT, lazily built grpc-js paths): primed as measureRawEcho does.
      if (label === 'batching on') await runLoad({ concurrency: 16, durationMs: 1_000, call: echoCall });
      for (const concurrency of label === 'batching on' ? CONCURRENCIES : [64]) {
        const echoed = label === 'batching on' ? await echoLevel(concurrency) : undefined;
        loads.push({ concurrency, echo: echoed, ...(await cpuPerCall(cpu, () => measurePredict(service.port, symbols, concurrency))) });
      }
      let i = 0;
      const typed =
        label === 'batching on'
          ? await runLoad({
              concurrency: 64,
              durationMs: 3_000,
              warmupMs: 500,
              call: () => client.predict(requests[i++ % requests.length], { timeoutMs: 10_000 }),
            })
          : undefined;
      let n = 0;
      let failedInStream = 0;
      const streamRequests = symbols.map((symbol, k) =>
        Buffer.from(toBinary(StreamPredictionsRequestSchema, create(StreamPredictionsRequestSchema, { requestId: String(k), symbol }))),
      );
      const openRaw = () => {
        const call = raw[PredictionService.method.streamPredictions.name]() as DuplexLike<Buffer>;
        // Field 2 is the prediction, 3 the error: told apart without decoding.
        call.on('data', (bytes) => void (topLevelFields(bytes as Buffer).includes(2) || failedInStream++));
        return call;
      };
      // Batched requests: field 4 is the results; a refused request carries only an error (3).
      const batchOf = (k: number) => ({
        requestId: String(k),
        symbols: Array.from({ length: STREAM_BATCH }, (_, i) => symbols[(k + i) % symbols.length]),
      });
      const batchedRequests = symbols.map((_, k) =>
        Buffer.from(toBinary(StreamPredictionsRequestSchema, create(StreamPredictionsRequestSchema, batchOf(k)))),
      );
      const openRawBatched = () => {
        const call = raw[PredictionService.method.streamPredictions.name]() as DuplexLike<Buffer>;
        call.on('data', (bytes) => void (topLevelFields(bytes as Buffer).includes(4) || failedInStream++));
        return call;
      };
      const open = duplexFromIterable<MessageInitShape<typeof StreamPredictionsRequestSchema>>((reqs, signal) =>
        client.streamPredictions(reqs, { signal }),
      );
      const batched = { messages: 6_000, window: STREAM_BATCH_WINDOW, timeoutMs: 60_000 };
      const streams =
        label === 'batching on'
          ? {
              single: await runStreamLoad({
                open: openRaw,
                message: () => streamRequests[n++ % streamRequests.length],
                messages: 60_000,
                window: 256,
                timeoutMs: 60_000,
              }),
              singleTyped: await runStreamLoad({
                open,
                message: () => ({ requestId: String(n), symbol: symbols[n++ % symbols.length] }),
                messages: 30_000,
                window: 256,
                timeoutMs: 60_000,
              }),
              batched: await runStreamLoad({
                open: openRawBatched,
                message: () => batchedRequests[n++ % batchedRequests.length],
                ...batched,
              }),
              batchedTyped: await runStreamLoad({ open, message: () => batchOf(n++), ...batched }),
            }
          : undefined;
      if (failedInStream > 0) throw new Error(`${failedInStream} StreamPredictions answers were errors`);
      raw.close();
      client.close();
      await service.stop();
      return { loads, typed, streams };
    };
    const on = await measureService('batching on', {});
    const off = await measureService('batching off', { PREDICTION_MAX_BATCH: '1' });
    const us = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : '');

    printTable(
      `prediction: Predict (features from the instance's current vectors, one ONNX run per micro-batch) beside raw grpc-js echo measured just before it at each level, both driven by the same raw client; server CPU per call from /proc, warm-up included`,
      [
        [
          'in flight',
          'Predict/s',
          'p50 ms',
          'p99 ms',
          'CPU µs/call',
          'echo/s',
          'echo p99 ms',
          'echo CPU µs/call',
          'throughput ratio',
          'p99 ratio',
          'CPU ratio',
          'errors',
        ],
        ...on.loads.map((l) => {
          const e = l.echo!;
          return [
            l.concurrency,
            rate(l.perSecond),
            l.p50Ms.toFixed(2),
            l.p99Ms.toFixed(2),
            us(l.cpuUs),
            rate(e.perSecond),
            e.p99Ms.toFixed(2),
            us(e.cpuUs),
            (l.perSecond / e.perSecond).toFixed(2),
            (l.p99Ms / e.p99Ms).toFixed(2),
            (l.cpuUs / e.cpuUs).toFixed(2),
            l.errors,
          ];
        }),
      ],
    );
    const c64on = on.loads.find((l) => l.concurrency === 64)!;
    const c64off = off.loads[0];
    const t = on.typed!;
    printTable('prediction: Predict at concurrency 64 through the typed client (lib/grpc: protobuf encode and decode in this process)', [
      ['Predict/s', 'p50 ms', 'p99 ms', 'errors'],
      [rate(t.perSecond), t.p50Ms.toFixed(2), t.p99Ms.toFixed(2), t.errors],
    ]);
    printTable('prediction: micro-batching at concurrency 64, same run', [
      ['batching', 'Predict/s', 'p50 ms', 'p99 ms'],
      ['on (max 64 rows, one event-loop turn)', rate(c64on.perSecond), c64on.p50Ms.toFixed(2), c64on.p99Ms.toFixed(2)],
      ['off (PREDICTION_MAX_BATCH=1)', rate(c64off.perSecond), c64off.p50Ms.toFixed(2), c64off.p99Ms.toFixed(2)],
    ]);
    printTable('prediction: streams and raw limits', [
      ['path', 'per second'],
      ['StreamPredictions, one symbol per request, 256 requests in flight (predictions)', rate(on.streams!.single.perSecond)],
      ['  the same through the typed client (lib/grpc)', rate(on.streams!.singleTyped.perSecond)],
      [
        `StreamPredictions, ${STREAM_BATCH} symbols per request, ${STREAM_BATCH_WINDOW} requests in flight (predictions)`,
        rate(on.streams!.batched.perSecond * STREAM_BATCH),
      ],
      ['  the same through the typed client (lib/grpc)', rate(on.streams!.batchedTyped.perSecond * STREAM_BATCH)],
      ['raw grpc-js bidi echo (messages)', rate(echo.bidi.perSecond)],
      ['raw onnxruntime-node, one row per run (rows)', rate(onnx.single)],
      ['raw onnxruntime-node, 64 rows per run (rows)', rate(onnx.batched)],
    ]);
    const levels = on.loads
      .map(
        (l) =>
          `c${l.concurrency} ${(l.perSecond / l.echo!.perSecond).toFixed(2)}x / ${(l.p99Ms / l.echo!.p99Ms).toFixed(2)}x / ${l.errors}`,
      )
      .join(', ');
    console.log(
      `  aims: Predict throughput >= 0.8x echo, p99 <= 1.5x echo's, no errors -> ${levels}; stream >= 50,000/s -> ${rate(on.streams!.batched.perSecond * STREAM_BATCH)} (${STREAM_BATCH} per request; ${rate(on.streams!.single.perSecond)} one per request); batching on/off at c64 -> ${(c64on.perSecond / c64off.perSecond).toFixed(2)}x`,
    );
  } finally {
    echoClient?.close();
    await echoProcess?.stop();
    await rig.stop();
  }
}
