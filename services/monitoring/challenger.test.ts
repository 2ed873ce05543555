import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlertKind, AlertState } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { startMonitoringBed, type MonitoringBed, type TestPrediction } from '../../testing/monitoring-bed.js';

/** NEPSE sessions (Sunday to Thursday). */
const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-07', '2024-01-08'];
const SYMBOLS = ['SYM0', 'SYM1', 'SYM2', 'SYM3'];
/** Every close is 1 % above the day before: the true next-day log return is ln 1.01. */
const closeOn = (k: number) => 100 * 1.01 ** k;
const TRUE_RETURN = Math.log(1.01);

const RULES = `
rules:
  - name: challenger_ahead
    kind: challenger_beats
    severity: info
    margin: 0.2
    sessions: 3
    window_days: 30
`;

/** Predictions of `version` for feature days 0..n-1 of every symbol, off the truth by `error`. */
const predictions = (version: number, n: number, error: number, shadow: boolean): TestPrediction[] =>
  SYMBOLS.flatMap((symbol) =>
    DAYS.slice(0, n).map((featureDate, k) => ({
      model: 'champ',
      version,
      symbol,
      featureDate,
      baseClose: closeOn(k),
      predictedReturn: TRUE_RETURN + error,
      shadow,
    })),
  );

describe('champion and challenger', () => {
  let bed: MonitoringBed;
  let rulesDir: string;

  before(async () => {
    rulesDir = await mkdtemp(join(tmpdir(), 'nepse-challenger-rules-'));
    await writeFile(join(rulesDir, 'rules.yaml'), RULES);
    bed = await startMonitoringBed({ MONITORING_RULES_FILE: join(rulesDir, 'rules.yaml'), MONITORING_EVALUATE_INTERVAL_MS: '200' });
  });

  after(async () => {
    await bed?.stop();
    await rm(rulesDir, { recursive: true, force: true });
  });

  it('scores the shadow beside the served version on the same bars and alerts once the challenger is ahead by the margin over N sessions', async () => {
    // The served v1 is off by 0.01, its shadow v2 by 0.002; v2 predicted a day fewer than v1.
    await bed.predict(predictions(1, 5, 0.01, false));
    await bed.predict(predictions(2, 4, -0.002, true));
    for (const symbol of SYMBOLS)
      await bed.bars(
        symbol,
        DAYS.map((date, k) => ({ date, close: closeOn(k) })),
      );

    const report = await waitFor(async () => {
      const { report: r } = await bed.client.getModelPerformance({ modelName: 'champ', modelVersion: 1 });
      return r?.shadow && Number(r.live?.model?.count) === 5 * SYMBOLS.length && Number(r.shadow.champion?.count) === 4 * SYMBOLS.length
        ? r
        : undefined;
    }, 'v1 and its shadow scored');
    const side = report.shadow!;
    assert.equal(side.challengerVersion, 2);
    assert.equal(side.sessions, 4, 'only the sessions both predicted');
    assert.equal(side.challengerBetterSessions, 4);
    assert.ok(Math.abs(side.champion!.maeReturn - 0.01) < 1e-9, `champion MAE ${side.champion!.maeReturn}`);
    assert.ok(Math.abs(side.challenger!.maeReturn - 0.002) < 1e-9, `challenger MAE ${side.challenger!.maeReturn}`);
    // The shadow never passes for the served version: a pooled report has no comparison, and its
    // figures are the served v1's alone, though the much better v2 was scored on the same bars.
    const pooled = (await bed.client.getModelPerformance({ modelName: 'champ' })).report!;
    assert.equal(pooled.shadow, undefined);
    assert.deepEqual(pooled.live, report.live, 'pooled figures are the served version’s');
    assert.equal(Number(pooled.live?.model?.count), 5 * SYMBOLS.length);
    assert.ok(Math.abs(pooled.live!.model!.maeReturn - 0.01) < 1e-9, `pooled MAE ${pooled.live!.model!.maeReturn}`);
    assert.equal(pooled.pendingPredictions, 0n);
    assert.deepEqual(pooled.window, report.window);
    // The challenger asked for on its own has no served figures: it never answered anyone.
    const alone = (await bed.client.getModelPerformance({ modelName: 'champ', modelVersion: 2 })).report!;
    assert.equal(Number(alone.live?.model?.count), 0);
    // The error series of the name is the served one too.
    const series = await bed.client.getErrorSeries({ modelName: 'champ' });
    const points = series.points;
    assert.ok(points.length > 0);
    for (const point of points) assert.ok(Math.abs(point.maeReturn - 0.01) < 1e-9, `series MAE ${point.maeReturn} on a day`);

    const [alert] = await waitFor(async () => {
      const { alerts } = await bed.client.listAlerts({ rule: 'challenger_ahead', state: AlertState.FIRING });
      return alerts.length ? alerts : undefined;
    }, 'the challenger alert');
    assert.equal(alert.kind, AlertKind.CHALLENGER_BEATS);
    assert.equal(alert.labels.model_version, '1');
    assert.equal(alert.labels.challenger_version, '2');
    assert.ok(Math.abs(alert.value - 0.8) < 1e-9, `80 % lower, got ${alert.value}`);
    assert.match(alert.summary, /champ v2 \(challenger\) MAE 0\.00200 vs v1 0\.01000: 80\.0 % lower over the last 3 sessions/);
  });
});
