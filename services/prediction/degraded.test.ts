import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { DegradedReason, type Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { createGrpcServer, grpc, implement, statusDetails, type GrpcServer } from '../../lib/grpc/index.js';
import { startPredictionBed, type PredictionBed } from '../../testing/prediction-bed.js';
import { dayOf } from '../../lib/market/index.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB', 'HBL', 'EBL', 'ADBL'];
/** The service gives up on the feature service after PREDICTION_FEATURE_TIMEOUT_MS (500 ms by default). */
const FEATURE_TIMEOUT_MS = 500;
/**
 * The callers' deadline: the feature lookup's timeout plus room for a loaded machine, where the
 * event loop of either process can stall for hundreds of milliseconds. The service must still
 * answer before it; with 100 ms of room, a busy CI machine failed calls the service had answered.
 */
const DEADLINE_MS = FEATURE_TIMEOUT_MS + 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  at: number;
  ms: number;
  prediction?: Prediction;
  code?: number;
}

/** Predicts in a closed loop from `workers` callers until stopped, recording every answer. */
function load(bed: PredictionBed, workers: number) {
  const answers: Answer[] = [];
  let running = true;
  const done = Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = w; running; i += workers) {
        const started = performance.now();
        try {
          const { prediction } = await bed.client.predict({ symbol: SYMBOLS[i % SYMBOLS.length] }, { timeoutMs: DEADLINE_MS });
          answers.push({ at: Date.now(), ms: performance.now() - started, prediction });
        } catch (error) {
          answers.push({ at: Date.now(), ms: performance.now() - started, code: (error as { code?: number }).code });
        }
      }
    }),
  );
  return {
    answers,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** A feature service that accepts every call and never answers one: one that hangs. */
async function hangingFeatureService(port: number): Promise<GrpcServer> {
  const never = () => new Promise<never>(() => {});
  const server = createGrpcServer({
    services: [
      implement(FeatureService, {
        getFeatures: never,
        batchGetFeatures: never,
        getTrainingSet: async function* () {
          await never();
        },
        listFeatureSets: never,
      }),
    ],
  });
  await server.listen(port, '127.0.0.1');
  server.setServing(true);
  return server;
}

/** Reason counts of degraded answers. */
function reasonsOf(answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { prediction } of answers)
    if (prediction?.degraded) out[DegradedReason[prediction.degradedReason]] = (out[DegradedReason[prediction.degradedReason]] ?? 0) + 1;
  return out;
}

describe('prediction service while the feature service is away', () => {
  let bed: PredictionBed;

  before(async () => {
    // Ask the feature service on every prediction, so its absence shows at once.
    bed = await startPredictionBed({
      symbols: SYMBOLS,
      env: {
        PREDICTION_FEATURE_FRESH_MS: '0',
        PREDICTION_FEATURE_TIMEOUT_MS: String(FEATURE_TIMEOUT_MS),
        PREDICTION_BREAKER_HALF_OPEN_MS: '300',
      },
    });
    for (const symbol of SYMBOLS) await bed.client.predict({ symbol });
  });

  after(async () => {
    await bed?.stop();
  });

  /** Waits until the last 300 ms of answers are all live (not degraded); returns when that was. */
  async function liveAgain(traffic: ReturnType<typeof load>): Promise<number> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      await sleep(100);
      const recent = traffic.answers.filter((a) => a.at > Date.now() - 300);
      if (recent.length > 10 && recent.every((a) => a.prediction && !a.prediction.degraded)) return Date.now();
    }
    assert.fail('answers were not live again within 15 s of the feature service returning');
  }

  it('answers from cached vectors, flagged degraded, inside the deadline; UNAVAILABLE for a symbol never seen; live again once it is back', async () => {
    const expectedDate = new Map(SYMBOLS.map((s) => [s, bed.bars.get(s)!.at(-1)!.date]));
    const traffic = load(bed, 8);
    await sleep(500);

    // 1. The feature service is gone: connections are refused.
    const killedAt = Date.now();
    await bed.stopFeature();
    await sleep(1_500);
    // A symbol no vector was ever cached for: a clear UNAVAILABLE, not a hang.
    const started = performance.now();
    await assert.rejects(bed.client.predict({ symbol: 'NEVERSEEN' }, { timeoutMs: DEADLINE_MS }), (error: unknown) => {
      assert.equal(statusDetails(error)?.code, grpc.status.UNAVAILABLE);
      assert.match(statusDetails(error)!.message, /no vector of NEVERSEEN is cached/);
      return true;
    });
    const unavailableMs = performance.now() - started;
    assert.ok(unavailableMs < DEADLINE_MS, `UNAVAILABLE after ${unavailableMs.toFixed(0)} ms`);
    const restartedAt = Date.now();
    await bed.startFeature();
    const live1 = await liveAgain(traffic);
    await sleep(300);

    // 2. The feature service hangs: it takes calls and never answers them.
    const hangAt = Date.now();
    await bed.stopFeature();
    const hanging = await hangingFeatureService(bed.featurePort);
    // Concurrent lookups share one call, so the breaker counts about one hung call per 500 ms
    // (PREDICTION_FEATURE_TIMEOUT_MS): five of them open it.
    await sleep(4_000);
    await hanging.stop(100);
    const returnedAt = Date.now();
    await bed.startFeature();
    const live2 = await liveAgain(traffic);
    await sleep(300);
    await traffic.stop();
    const { answers } = traffic;

    const failed = answers.filter((a) => !a.prediction);
    assert.deepEqual(
      failed.map((a) => a.code),
      [],
      'no request failed',
    );
    const slowest = Math.max(...answers.map((a) => a.ms));
    assert.ok(slowest < DEADLINE_MS, `every answer inside the ${DEADLINE_MS} ms deadline (slowest ${slowest.toFixed(0)} ms)`);

    const refused = answers.filter((a) => a.at > killedAt + 50 && a.at < restartedAt);
    const hung = answers.filter((a) => a.at > hangAt + FEATURE_TIMEOUT_MS + 100 && a.at < returnedAt);
    for (const [phase, away] of [
      ['refused', refused],
      ['hanging', hung],
    ] as const) {
      assert.ok(away.length > 20, `answers kept coming while the feature service was ${phase} (${away.length})`);
      for (const { prediction } of away) {
        assert.equal(prediction!.degraded, true, `${phase}: degraded`);
        assert.notEqual(prediction!.degradedReason, DegradedReason.UNSPECIFIED);
        assert.ok(prediction!.degradedDetail.length > 0);
        assert.equal(dayOf(prediction!.featureDate), expectedDate.get(prediction!.symbol), "the cached vector's date");
      }
    }
    const refusedReasons = reasonsOf(refused);
    const hungReasons = reasonsOf(hung);
    // Refused connections fail fast, so the breaker opens within milliseconds and its reason dominates.
    assert.ok(
      refusedReasons.CIRCUIT_OPEN > 0 &&
        Object.keys(refusedReasons).every((r) => r === 'CIRCUIT_OPEN' || r === 'FEATURE_SERVICE_UNAVAILABLE'),
      JSON.stringify(refusedReasons),
    );
    assert.ok(hungReasons.FEATURE_SERVICE_TIMEOUT > 0 && hungReasons.CIRCUIT_OPEN > 0, JSON.stringify(hungReasons));

    for (const live of [live1, live2]) {
      const settled = answers.filter((a) => a.at > live && a.at < (live === live1 ? hangAt : Infinity));
      assert.ok(settled.length > 0 && settled.every((a) => !a.prediction!.degraded), 'no degraded answer after recovery');
    }
    const p = (q: number) => [...answers].sort((a, b) => a.ms - b.ms)[Math.floor(answers.length * q)].ms.toFixed(1);
    console.log(
      `# ${answers.length} answers, none failed; p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, slowest ${slowest.toFixed(0)} ms (deadline ${DEADLINE_MS} ms); ` +
        `refused: ${JSON.stringify(refusedReasons)}, live ${live1 - restartedAt} ms after the restart; ` +
        `hanging: ${JSON.stringify(hungReasons)}, live ${live2 - returnedAt} ms after the restart; UNAVAILABLE for an uncached symbol in ${unavailableMs.toFixed(0)} ms`,
    );
  });
});
