/**
 * Prediction service: Predict req/s and p50/p99 at concurrency 1/16/64 and StreamPredictions
 * predictions/s (one symbol per request, and many), beside a raw @grpc/grpc-js echo (rounds
 * alternating with Predict's at each concurrency, see bench/rounds.ts, with both servers' CPU per
 * call) and raw
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
import { grpc } from '../lib/grpc/grpc-js.js';
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
import { alternate, loadRound, PAIRS, pairRatio, PRIME_MS, roundOf, ROUND_MS, ROUND_WARMUP_MS, type Round, type Side } from './rounds.js';

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
 * decoded and checked) at `concurrency` for `durationMs` after a `warmupMs` warm-up, with `metadata`
 * on each call (a gateway's key); `calls` counts the answers of the warm-up too (the denominator of
 * a server's CPU per call over the whole run).
 */
export async function measurePredict(
  port: number,
  symbols: readonly string[],
  concurrency: number,
  durationMs = 3_000,
  warmupMs = 500,
  metadata: Record<string, string> = {},
): Promise<LoadResult & { calls: number }> {
  const raw = createRawClient(`127.0.0.1:${port}`, [PredictionService.method.predict]);
  const encoded = symbols.map((symbol) => Buffer.from(toBinary(PredictRequestSchema, create(PredictRequestSchema, { symbol }))));
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  let calls = 0;
  const rawPredict = async () => {
    const bytes = await rawUnary(raw, PredictionService.method.predict, encoded[calls % encoded.length], 10_000, md);
    if (calls++ % 100 === 0 && !fromBinary(PredictResponseSchema, bytes).prediction?.symbol)
      throw new Error('a Predict response without a prediction');
  };
  try {
    return { ...(await runLoad({ concurrency, durationMs, warmupMs, call: rawPredict })), calls };
  } finally {
    raw.close();
  }
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
    const echoRound = (concurrency: number) => loadRound(concurrency, echoCall, echoing.cpuSeconds);
    // The echo is primed once, the way each prediction process is below.
    await runLoad({ concurrency: 16, durationMs: PRIME_MS, call: echoCall });
    /**
     * Starts a prediction process with the default settings and measures it against the echo at
     * every level, then through the typed client and the streams.
     */
    const measureService = async () => {
      const service = await rig.startPrediction();
      const client = createGrpcClient(PredictionService, `127.0.0.1:${service.port}`);
      const requests = symbols.map((symbol) => create(PredictRequestSchema, { symbol }));
      // The server-side figures use the echo's client. The typed client's own cost is shown in a row of its own.
      const raw = createRawClient(`127.0.0.1:${service.port}`, [PredictionService.method.streamPredictions]);
      const cpu = () => processCpuSeconds(service.child.pid!);
      await measurePredict(service.port, symbols, 16, PRIME_MS, 0);
      const predictRound = (concurrency: number, durationMs = ROUND_MS) =>
        roundOf(cpu, () => measurePredict(service.port, symbols, concurrency, durationMs, ROUND_WARMUP_MS));
      const levels: Array<{ concurrency: number; echo: Side; predict: Side }> = [];
      for (const concurrency of CONCURRENCIES) {
        const { a: echo, b: predict } = await alternate(
          PAIRS,
          () => echoRound(concurrency),
          () => predictRound(concurrency),
        );
        levels.push({ concurrency, echo, predict });
      }
      let i = 0;
      const typed = await runLoad({
        concurrency: 64,
        durationMs: 3_000,
        warmupMs: 500,
        call: () => client.predict(requests[i++ % requests.length], { timeoutMs: 10_000 }),
      });
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
      const streams = {
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
      };
      if (failedInStream > 0) throw new Error(`${failedInStream} StreamPredictions answers were errors`);
      raw.close();
      client.close();
      await service.stop();
      return { levels, typed, streams };
    };
    const on = await measureService();
    // Without reusing outputs every prediction is an inference run: the figures of a vector asked for
    // the first time, at each level; and micro-batching on against off, two processes side by side,
    // both primed, in rounds alternating at concurrency 64, as Predict and the echo are.
    const batching = await (async () => {
      const batched = await rig.startPrediction({ PREDICTION_REUSE_OUTPUTS: 'false' });
      const unbatched = await rig.startPrediction({ PREDICTION_REUSE_OUTPUTS: 'false', PREDICTION_MAX_BATCH: '1' });
      try {
        const roundAt = (service: ServiceProcess, concurrency: number, durationMs = ROUND_MS) =>
          roundOf(
            () => processCpuSeconds(service.child.pid!),
            () => measurePredict(service.port, symbols, concurrency, durationMs, ROUND_WARMUP_MS),
          );
        for (const service of [batched, unbatched]) await measurePredict(service.port, symbols, 16, PRIME_MS, 0);
        const single: Array<{ concurrency: number } & Round> = [];
        for (const concurrency of CONCURRENCIES) single.push({ concurrency, ...(await roundAt(batched, concurrency, 2 * ROUND_MS)) });
        const { a: off, b: on } = await alternate(
          PAIRS,
          () => roundAt(unbatched, 64),
          () => roundAt(batched, 64),
        );
        return { single, on, off, ratio: pairRatio(off, on, (r) => r.perSecond) };
      } finally {
        await batched.stop();
        await unbatched.stop();
      }
    })();
    const us = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : '');

    const ratios = on.levels.map(({ concurrency, echo: e, predict: p }) => ({
      concurrency,
      throughput: pairRatio(e, p, (r) => r.perSecond),
      p99: pairRatio(e, p, (r) => r.p99Ms),
      cpu: pairRatio(e, p, (r) => r.cpuUsPerCall),
      errors: p.errors,
    }));
    printTable(
      `prediction: Predict (features from the instance's current vectors; a vector's output computed once per model version and reused, PREDICTION_REUSE_OUTPUTS) beside the raw grpc-js echo, ${PAIRS} rounds of ${ROUND_MS / 1000} s each alternating echo and Predict at each level, both servers primed and driven by the same raw client; figures are total calls over total time and the medians of the rounds' p50, p99 and server CPU per call (from /proc, warm-up included); ratios are medians over the pairs`,
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
        ...on.levels.map(({ concurrency, echo: e, predict: p }, i) => [
          concurrency,
          rate(p.perSecond),
          p.p50Ms.toFixed(2),
          p.p99Ms.toFixed(2),
          us(p.cpuUsPerCall),
          rate(e.perSecond),
          e.p99Ms.toFixed(2),
          us(e.cpuUsPerCall),
          ratios[i].throughput.toFixed(2),
          ratios[i].p99.toFixed(2),
          ratios[i].cpu.toFixed(2),
          p.errors,
        ]),
      ],
    );
    const { on: c64on, off: c64off } = batching;
    const t = on.typed;
    printTable('prediction: Predict at concurrency 64 through the typed client (lib/grpc: protobuf encode and decode in this process)', [
      ['Predict/s', 'p50 ms', 'p99 ms', 'errors'],
      [rate(t.perSecond), t.p50Ms.toFixed(2), t.p99Ms.toFixed(2), t.errors],
    ]);
    printTable(
      'prediction: Predict with every prediction an inference run (PREDICTION_REUSE_OUTPUTS=false; one micro-batched ONNX run per event-loop turn), one 2 s run per level',
      [
        ['in flight', 'Predict/s', 'p50 ms', 'p99 ms', 'CPU µs/call', 'errors'],
        ...batching.single.map((r) => [
          r.concurrency,
          rate(r.perSecond),
          r.p50Ms.toFixed(2),
          r.p99Ms.toFixed(2),
          us(r.cpuUsPerCall),
          r.errors,
        ]),
      ],
    );
    printTable(
      `prediction: micro-batching at concurrency 64, every prediction an inference run, two processes in ${PAIRS} pairs of alternating ${ROUND_MS / 1000} s rounds (figures as in the first table)`,
      [
        ['batching', 'Predict/s', 'p50 ms', 'p99 ms', 'CPU µs/call'],
        [
          'on (max 64 rows, one event-loop turn)',
          rate(c64on.perSecond),
          c64on.p50Ms.toFixed(2),
          c64on.p99Ms.toFixed(2),
          us(c64on.cpuUsPerCall),
        ],
        ['off (PREDICTION_MAX_BATCH=1)', rate(c64off.perSecond), c64off.p50Ms.toFixed(2), c64off.p99Ms.toFixed(2), us(c64off.cpuUsPerCall)],
      ],
    );
    printTable('prediction: streams and raw limits', [
      ['path', 'per second'],
      ['StreamPredictions, one symbol per request, 256 requests in flight (predictions)', rate(on.streams.single.perSecond)],
      ['  the same through the typed client (lib/grpc)', rate(on.streams.singleTyped.perSecond)],
      [
        `StreamPredictions, ${STREAM_BATCH} symbols per request, ${STREAM_BATCH_WINDOW} requests in flight (predictions)`,
        rate(on.streams.batched.perSecond * STREAM_BATCH),
      ],
      ['  the same through the typed client (lib/grpc)', rate(on.streams.batchedTyped.perSecond * STREAM_BATCH)],
      ['raw grpc-js bidi echo (messages)', rate(echo.bidi.perSecond)],
      ['raw onnxruntime-node, one row per run (rows)', rate(onnx.single)],
      ['raw onnxruntime-node, 64 rows per run (rows)', rate(onnx.batched)],
    ]);
    const levels = ratios.map((r) => `c${r.concurrency} ${r.throughput.toFixed(2)}x / ${r.p99.toFixed(2)}x / ${r.errors}`).join(', ');
    console.log(
      `  aims: Predict throughput >= 0.8x echo, p99 <= 1.5x echo's, no errors -> ${levels}; stream >= 50,000/s -> ${rate(on.streams.batched.perSecond * STREAM_BATCH)} (${STREAM_BATCH} per request; ${rate(on.streams.single.perSecond)} one per request); batching on/off at c64 -> ${batching.ratio.toFixed(2)}x (median of pairs)`,
    );
  } finally {
    echoClient?.close();
    await echoProcess?.stop();
    await rig.stop();
  }
}
