/**
 * An injected degradation, end to end: a model that always predicts the wrong sign is served by
 * the prediction service, its predictions reach monitoring in PredictionsMade and are scored against
 * the bars that follow, and the directional-accuracy rule fires exactly once; promoting a right
 * model through the registry's saga resolves it, the right model raises nothing, and a request
 * pinning the replaced version does not bring its alert back. Every part is
 * the real service — nats-server, feature, registry (PGlite), prediction, monitoring — in this
 * process on free loopback ports.
 *
 * The market alternates: each symbol closes at its base price, then 5 % above, then at its base
 * again, so every session's move is the opposite of the previous one. A linear model whose only
 * weight is +1 on the one-day log return predicts "the same as today" and is always wrong; −1 is
 * always right.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import type { Subscription } from 'nats';
import { AlertRaisedSchema, type AlertRaised } from '../../gen/nepse/events/v1/events_pb.js';
import { AlertKind, AlertState, MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { createGrpcClient, type ServiceClient } from '../../lib/grpc/index.js';
import { dayOf, nextTradingDay } from '../../lib/market/index.js';
import { DEFAULT_FEATURE_SET, type DailyBar } from '../../services/feature/feature-sets/index.js';
import { monitoringConfig } from '../../services/monitoring/config.js';
import { startMonitoring, type RunningMonitoring } from '../../services/monitoring/service.js';
import { startPredictionBed, WIDTH, type PredictionBed } from '../../testing/prediction-bed.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB', 'HBL', 'EBL', 'ADBL', 'NTC', 'UPPER', 'CHCL', 'NIFRA'];
const MODEL = 'flip-linear';
/** Sessions of history before the scenario: past ohlcv_v1's 50-day warm-up. */
const HISTORY = 60;
const RULE = 'direction_floor';
/** Scored predictions the rule needs: three sessions of every symbol. */
const MIN_COUNT = 30;
const RULES = `
rules:
  - name: ${RULE}
    kind: directional_accuracy
    severity: warning
    min_accuracy: 0.45
    window_days: 14
    min_count: ${MIN_COUNT}
`;

const RETURN_1D = DEFAULT_FEATURE_SET.features.findIndex((f) => f.name === 'log_return_1d');
/** A model whose prediction is `sign` × the one-day log return; nothing else counts. */
const followModel = (sign: 1 | -1) => Array.from({ length: WIDTH }, (_, i) => (i === RETURN_1D ? sign : 0));

/** Bar number `k` (from 0) of symbol number `s`: base price on even sessions, 5 % above on odd ones. */
function barOf(s: number, k: number, date: string): DailyBar {
  const base = 100 + 20 * s;
  const closeOf = (j: number) => (j % 2 ? base * 1.05 : base);
  const close = closeOf(k);
  const open = k > 0 ? closeOf(k - 1) : close;
  // Volume varies so its z-scores are ordinary numbers, as in a real market.
  const volume = 10_000 + 250 * ((k * 7 + s) % 11);
  return { date, open, high: Math.max(open, close) * 1.01, low: Math.min(open, close) * 0.99, close, volume, turnover: close * volume };
}

/** Trading days from 1 January 2024: the history, then the scenario's sessions. */
const DAYS = ['2024-01-01'];
while (DAYS.length < HISTORY + 20) DAYS.push(nextTradingDay(DAYS.at(-1)!));

describe('an injected degradation, through real models', () => {
  let bed: PredictionBed;
  let monitoring: RunningMonitoring;
  let client: ServiceClient<typeof MonitoringService>;
  let dataDir = '';
  let raisedSub: Subscription | undefined;
  const raised: AlertRaised[] = [];
  /** Sessions published so far, history included. */
  let published = HISTORY;
  let goodVersion = 0;
  const wrongVersion = () => bed.model.version;

  const performance = async (version: number) => (await client.getModelPerformance({ modelName: MODEL, modelVersion: version })).report!;
  const alertsOf = async (state = AlertState.UNSPECIFIED) => (await client.listAlerts({ rule: RULE, state })).alerts;
  const raisedOf = () =>
    raised.filter((r) => r.alert?.rule === RULE).map((r) => [r.alert?.alertId, r.alert?.labels.model_version, r.alert?.state]);

  /**
   * One session: the next bar of every symbol, then one PredictBatch of them all from it, answered
   * by `version`; then waits until monitoring holds `scored` scored predictions of that version and
   * the 10 new ones pending, so each step starts from a known state.
   */
  async function session(version: number, scored: number): Promise<void> {
    const k = published++;
    const day = DAYS[k];
    await Promise.all(SYMBOLS.map((symbol, s) => bed.addBars(symbol, [barOf(s, k, day)])));
    // The feature service answering with the new vector does not mean prediction heard of it yet:
    // a vector it fetched under a second ago is reused. Asking again predicts nothing twice, as a
    // (model, version, symbol, day) is one prediction to monitoring however often it is asked.
    const results = await waitFor(async () => {
      const { results } = await bed.client.predictBatch({ symbols: SYMBOLS, modelName: MODEL }, { timeoutMs: 5_000 });
      return results.every((r) => r.outcome.case === 'prediction' && dayOf(r.outcome.value.featureDate) === day) ? results : undefined;
    }, `predictions from ${day}`);
    for (const r of results) {
      assert.equal(
        r.outcome.case === 'prediction' && r.outcome.value.modelVersion,
        version,
        `${r.symbol} on ${day} predicted by v${version}`,
      );
    }
    await waitFor(async () => {
      const report = await performance(version);
      return Number(report.live?.model?.count) === scored && Number(report.pendingPredictions) === SYMBOLS.length;
    }, `monitoring to hold ${scored} scored and ${SYMBOLS.length} pending predictions of v${version} after ${day}`);
  }

  before(async () => {
    bed = await startPredictionBed({
      symbols: SYMBOLS,
      history: (symbol) => DAYS.slice(0, HISTORY).map((day, k) => barOf(SYMBOLS.indexOf(symbol), k, day)),
      modelName: MODEL,
      weights: followModel(1),
      bias: 0,
    });
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-model-alerts-'));
    const rulesFile = join(dataDir, 'rules.yaml');
    await writeFile(rulesFile, RULES);
    monitoring = await startMonitoring(
      monitoringConfig({
        NATS_URL: bed.nats.url,
        DATA_DIR: dataDir,
        BIND_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        MONITORING_PORT: '0',
        MONITORING_METRICS_PORT: '0',
        NEPSE_REGISTRY_ADDR: `127.0.0.1:${bed.registryPort}`,
        MONITORING_RULES_FILE: rulesFile,
        MONITORING_EVALUATE_INTERVAL_MS: '250',
        MONITORING_EVALUATE_DEBOUNCE_MS: '50',
      }),
    );
    client = createGrpcClient(MonitoringService, `127.0.0.1:${monitoring.port}`);
    raisedSub = bed.bus.nc.subscribe('nepse.v1.alerts.raised.>', {
      callback: (error, m) => {
        if (!error) raised.push(fromBinary(AlertRaisedSchema, m.data));
      },
    });
  });

  after(async () => {
    raisedSub?.unsubscribe();
    client?.close();
    await monitoring?.stop();
    await bed?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('fires the directional-accuracy alert exactly once for the model that always predicts the wrong sign', async () => {
    assert.notEqual(RETURN_1D, -1, 'ohlcv_v1 has a one-day log return');
    const v = wrongVersion();
    // Three sessions are scored once the fourth session's bars arrive: 30 predictions, all wrong.
    for (let i = 0; i < 4; i++) await session(v, SYMBOLS.length * i);
    const [alert] = await waitFor(async () => {
      const firing = await alertsOf(AlertState.FIRING);
      return firing.length ? firing : undefined;
    }, 'the directional-accuracy alert');
    assert.equal(alert.kind, AlertKind.DIRECTIONAL_ACCURACY);
    assert.deepEqual({ ...alert.labels }, { model_name: MODEL, model_version: String(v) });
    assert.equal(alert.value, 0, 'every scored prediction had the wrong sign');
    assert.equal(alert.threshold, 0.45);
    const report = await performance(v);
    assert.equal(report.live?.model?.count, BigInt(MIN_COUNT));
    assert.equal(report.live?.model?.directionalAccuracy, 0);

    // A fifth session of wrong predictions, scored and evaluated: still the one alert, announced once.
    await session(v, 4 * SYMBOLS.length);
    await monitoring.evaluator.evaluate();
    await bed.bus.nc.flush();
    assert.deepEqual(
      (await alertsOf()).map((a) => [a.alertId, a.state]),
      [[alert.alertId, AlertState.FIRING]],
    );
    assert.deepEqual(raisedOf(), [[alert.alertId, String(v), AlertState.FIRING]]);
    const [event] = raised.filter((r) => r.alert?.rule === RULE);
    assert.equal(event.alert?.value, 0);
    assert.equal((await performance(v)).live?.model?.directionalAccuracy, 0);
  });

  it('resolves it once a right model is promoted through the registry, and raises nothing for the new version', async () => {
    const [firing] = await alertsOf(AlertState.FIRING);
    assert.ok(firing, 'the alert of the first step is firing');
    const bytes = linearModel({ width: WIDTH, weights: followModel(-1), bias: 0 });
    const registered = await bed.registry.registerModel(registerRequests(registrationFor(MODEL, WIDTH), bytes));
    goodVersion = registered.modelVersion!.version;
    await bed.registry.transitionStage({
      name: MODEL,
      version: goodVersion,
      targetStage: Stage.PRODUCTION,
      actor: 'test',
      reason: 'replace the wrong-signed model',
    });
    // The saga ends when the prediction service has swapped the version in; until then the wrong
    // one answers. The first batch of the new version predicts the current session again, so the
    // right model's record starts on the same day the wrong one's stops.
    const day = DAYS[published - 1];
    await waitFor(
      async () => {
        const { results } = await bed.client.predictBatch({ symbols: SYMBOLS, modelName: MODEL }, { timeoutMs: 5_000 });
        return results.every(
          (r) =>
            r.outcome.case === 'prediction' && r.outcome.value.modelVersion === goodVersion && dayOf(r.outcome.value.featureDate) === day,
        );
      },
      `PredictBatch to answer with v${goodVersion}`,
      { timeoutMs: 30_000 },
    );

    // Three sessions score the right model's 30 predictions: enough for the rule to judge it.
    for (let i = 1; i <= 3; i++) await session(goodVersion, SYMBOLS.length * i);
    await monitoring.evaluator.evaluate();
    await bed.bus.nc.flush();

    const alerts = await alertsOf();
    assert.deepEqual(
      alerts.map((a) => [a.alertId, a.state, a.labels.model_version]),
      [[firing.alertId, AlertState.RESOLVED, String(wrongVersion())]],
    );
    assert.ok(alerts[0].resolvedAt, 'resolved_at is set');
    await waitFor(() => raisedOf().length >= 2, 'the second AlertRaised');
    assert.deepEqual(raisedOf(), [
      [firing.alertId, String(wrongVersion()), AlertState.FIRING],
      [firing.alertId, String(wrongVersion()), AlertState.RESOLVED],
    ]);

    const good = await performance(goodVersion);
    assert.equal(good.live?.model?.count, BigInt(MIN_COUNT), 'the rule had enough of the right model to judge it');
    assert.equal(good.live?.model?.directionalAccuracy, 1);
    const wrong = await performance(wrongVersion());
    assert.equal(wrong.live?.model?.count, BigInt(5 * SYMBOLS.length), 'its last session was scored by the bars after the promotion');
    assert.equal(wrong.live?.model?.directionalAccuracy, 0);
    const production = await bed.registry.getModel({ name: MODEL, selector: { case: 'stage', value: Stage.PRODUCTION } });
    assert.equal(production.modelVersion?.version, goodVersion);
  });

  it('keeps judging the Production version when a request pins the replaced one', async () => {
    // The replaced version stays loaded for pinned requests; its predictions must not move the
    // rules back onto it (the registry, not the latest prediction, says which version is served).
    const { results } = await bed.client.predictBatch(
      { symbols: SYMBOLS, modelName: MODEL, modelVersion: wrongVersion() },
      { timeoutMs: 5_000 },
    );
    assert.ok(
      results.every((r) => r.outcome.case === 'prediction' && r.outcome.value.modelVersion === wrongVersion()),
      'the pinned version answered',
    );
    await waitFor(
      async () => Number((await performance(wrongVersion())).pendingPredictions) === SYMBOLS.length,
      'the pinned predictions at monitoring',
    );
    await monitoring.evaluator.evaluate();
    await bed.bus.nc.flush();
    assert.deepEqual(await alertsOf(AlertState.FIRING), []);
    assert.equal(raisedOf().length, 2, 'nothing raised since the resolve');
  });
});
