/**
 * Gateway: Predict through the gateway over gRPC (h2c, the raw client with an API key) and over
 * Connect (protobuf over HTTP/2, JSON over HTTP/1.1, through connect-node's client) beside Predict
 * straight to the prediction service and the raw @grpc/grpc-js echo, all in the same run on the
 * same mesh (bench/prediction.ts's rig), with the CPU each call costs the server it is sent to (the
 * prediction service direct, the gateway through it) from /proc. Aim: through the gateway over gRPC
 * at least 0.6× direct at concurrency 16.
 * Run: `make bench ONLY=gateway`.
 */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { PredictionService } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { hashKey, newKey } from '../services/gateway/api-keys.js';
import { printTable, processCpuSeconds, rate, waitForIdle } from './format.js';
import { measureRawEcho } from './grpc-echo.js';
import { runLoad } from './load.js';
import { benchModel, measurePredict, startPredictionRig } from './prediction.js';
import { alternate, PAIRS, pairRatio, PRIME_MS, roundOf, ROUND_MS, ROUND_WARMUP_MS, type Round, type Side } from './rounds.js';

const CONCURRENCIES = [1, 16, 64];
const LOAD = { durationMs: 3_000, warmupMs: 500 };

/**
 * One round of Predict over gRPC at `port` through the echo's raw client (measurePredict), with
 * `metadata` (the gateway's key), and the CPU of process `pid` per call answered.
 */
function rawPredictRound(
  port: number,
  symbols: readonly string[],
  concurrency: number,
  pid: number,
  metadata?: Record<string, string>,
  load = { durationMs: ROUND_MS, warmupMs: ROUND_WARMUP_MS },
): Promise<Round> {
  return roundOf(
    () => processCpuSeconds(pid),
    () => measurePredict(port, symbols, concurrency, load.durationMs, load.warmupMs, metadata),
  );
}

export async function benchGateway(): Promise<void> {
  // Only the unary figures are compared here: a short bidi run keeps the echo quick.
  const echo = await measureRawEcho({ concurrencies: CONCURRENCIES, streamMessages: 20_000 });
  const rig = await startPredictionRig(benchModel());
  try {
    const prediction = await rig.startPrediction();
    const key = newKey('bench');
    // A key whose limits never bind: what is measured is the gateway, not its rate limiter.
    const keys = {
      keys: [{ id: 'bench', principal: 'bench', role: 'viewer', sha256: hashKey(key), ratePerSecond: 1e9, burst: 1e9, maxStreams: 1_000 }],
    };
    const gateway = await rig.startService('gateway', {
      NEPSE_PREDICTION_ADDR: `127.0.0.1:${prediction.port}`,
      GATEWAY_API_KEYS: JSON.stringify(keys),
    });
    const auth = { authorization: `Bearer ${key}` };
    const symbols = rig.symbols;
    // Both paths are primed first: the processes start cold (JIT) and the gateway's channel to prediction connects lazily.
    const prime = { durationMs: PRIME_MS, warmupMs: 0 };
    await rawPredictRound(prediction.port, symbols, 16, prediction.child.pid!, undefined, prime);
    await rawPredictRound(gateway.port, symbols, 16, gateway.child.pid!, auth, prime);
    await waitForIdle(gateway.child.pid!);

    const levels: Array<{ direct: Side; through: Side; ratio: number }> = [];
    for (const concurrency of CONCURRENCIES) {
      const { a: direct, b: through } = await alternate(
        PAIRS,
        () => rawPredictRound(prediction.port, symbols, concurrency, prediction.child.pid!),
        () => rawPredictRound(gateway.port, symbols, concurrency, gateway.child.pid!, auth),
      );
      levels.push({ direct, through, ratio: pairRatio(direct, through, (r) => r.perSecond) });
    }
    const connectLoad = async (httpVersion: '2' | '1.1', useBinaryFormat: boolean) => {
      const client = createClient(
        PredictionService,
        createConnectTransport({ baseUrl: `http://127.0.0.1:${gateway.port}`, httpVersion, useBinaryFormat }),
      );
      let i = 0;
      return runLoad({
        concurrency: 16,
        ...LOAD,
        call: () => client.predict({ symbol: symbols[i++ % symbols.length] }, { headers: auth, timeoutMs: 10_000 }),
      });
    };
    const connectBinary = await connectLoad('2', true);
    const connectJson = await connectLoad('1.1', false);

    const us = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : '');
    printTable(
      `gateway: Predict through the gateway beside Predict direct (both primed, ${PAIRS} rounds of ${ROUND_MS / 1000} s each alternating direct and through it at each level, bench/rounds.ts) and the raw grpc-js echo, same raw client, same run; CPU per call from /proc of the prediction service (direct) and of the gateway (through it), warm-up included; the ratio is the median over the pairs`,
      [
        [
          'in flight',
          'direct/s',
          'direct p99 ms',
          'prediction CPU µs/call',
          'gateway gRPC/s',
          'p50 ms',
          'p99 ms',
          'gateway CPU µs/call',
          'gateway/direct',
          'echo/s',
          'errors',
        ],
        ...CONCURRENCIES.map((c, k) => {
          const { direct: d, through: g, ratio } = levels[k];
          const e = echo.unary.find((u) => u.concurrency === c)!;
          return [
            c,
            rate(d.perSecond),
            d.p99Ms.toFixed(2),
            us(d.cpuUsPerCall),
            rate(g.perSecond),
            g.p50Ms.toFixed(2),
            g.p99Ms.toFixed(2),
            us(g.cpuUsPerCall),
            ratio.toFixed(2),
            rate(e.perSecond),
            d.errors + g.errors,
          ];
        }),
      ],
    );
    printTable(
      'gateway: Predict over Connect at concurrency 16 (connect-node client: protobuf or JSON encoded and decoded in this process)',
      [
        ['protocol', 'Predict/s', 'p50 ms', 'p99 ms', 'errors'],
        [
          'Connect, protobuf, HTTP/2',
          rate(connectBinary.perSecond),
          connectBinary.p50Ms.toFixed(2),
          connectBinary.p99Ms.toFixed(2),
          connectBinary.errors,
        ],
        [
          'Connect, JSON, HTTP/1.1',
          rate(connectJson.perSecond),
          connectJson.p50Ms.toFixed(2),
          connectJson.p99Ms.toFixed(2),
          connectJson.errors,
        ],
      ],
    );
    const c16 = levels[1];
    console.log(
      `  aim: through the gateway over gRPC >= 0.6x direct at concurrency 16 -> ${c16.ratio.toFixed(2)}x (${rate(c16.through.perSecond)}/s vs ${rate(c16.direct.perSecond)}/s), ${c16.ratio >= 0.6 ? 'met' : 'NOT met'}`,
    );
  } finally {
    await rig.stop();
  }
}
