import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import type { Subscription } from 'nats';
import { AlertRaisedSchema, type AlertRaised } from '../../gen/nepse/events/v1/events_pb.js';
import { AlertKind, AlertSeverity, AlertState, type Alert } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { metricValue } from '../../testing/calls.js';
import { startMonitoringBed, type MonitoringBed, type TestPrediction } from '../../testing/monitoring-bed.js';

/** NEPSE sessions (Sunday to Thursday) from Monday 1 January 2024. */
const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-07', '2024-01-08', '2024-01-09'];
const SYMBOLS = Array.from({ length: 10 }, (_, i) => `SYM${i}`);
/** Closes alternate 100, 105, 100, …: the next session goes up from an even day, down from an odd one. */
const closeOn = (k: number) => (k % 2 === 0 ? 100 : 105);
const nextMove = (k: number) => (k % 2 === 0 ? 1 : -1);
/** Epoch ms of a Nepal wall-clock time (UTC+05:45). */
const nepal = (day: string, time: string) => Date.parse(`${day}T${time}:00+05:45`);

const RULES = `
rules:
  - name: direction_floor
    kind: directional_accuracy
    severity: warning
    min_accuracy: 0.45
    window_days: 20
    min_count: 30
  - name: stale_bars
    kind: stale_bars
    severity: critical
    slack_hours: 2
  - name: slow_predictions
    kind: prediction_latency
    severity: info
    max_p99_ms: 250
    window_minutes: 60
    min_samples: 10
`;

/** Predictions of `version` for feature days `days` (indexes) of every symbol, right or wrong about the direction. */
function predictions(version: number, days: number[], right: boolean, latencyMs: number): TestPrediction[] {
  return SYMBOLS.flatMap((symbol) =>
    days.map((k) => ({
      model: 'flip',
      version,
      symbol,
      featureDate: DAYS[k],
      baseClose: closeOn(k),
      predictedReturn: 0.01 * nextMove(k) * (right ? 1 : -1),
      latencyMs,
    })),
  );
}

/** Collects a WatchAlerts stream in the background. */
function watch(bed: MonitoringBed, request: { minSeverity?: AlertSeverity; includeFiring?: boolean }) {
  const seen: Alert[] = [];
  let heartbeats = 0;
  const abort = new AbortController();
  const done = (async () => {
    for await (const m of bed.client.watchAlerts(request, { signal: abort.signal })) {
      if (m.kind.case === 'alert') seen.push(m.kind.value);
      else heartbeats++;
    }
  })().then(
    () => 'ended' as const,
    (error: { code?: number }) => (error.code === 1 ? ('cancelled' as const) : Promise.reject(error)),
  );
  return { seen, heartbeats: () => heartbeats, stop: () => (abort.abort(), done) };
}

describe('monitoring: alerts', () => {
  let bed: MonitoringBed;
  let clock = nepal('2024-01-10', '10:00');
  let raisedSub: Subscription;
  const raised: { subject: string; msgId: string; event: AlertRaised }[] = [];
  const posted: { state: string; alert: { rule: string; alertId: string } }[] = [];
  let hook: Server;
  let rulesDir = '';
  const raisedOf = (rule: string) => raised.filter((r) => r.event.alert?.rule === rule);
  const firing = async (rule: string) => (await bed.client.listAlerts({ rule, state: AlertState.FIRING })).alerts;

  before(async () => {
    hook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        posted.push(JSON.parse(body));
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    rulesDir = await mkdtemp(join(tmpdir(), 'nepse-monitoring-rules-'));
    const rulesFile = join(rulesDir, 'rules.yaml');
    await writeFile(rulesFile, RULES);
    bed = await startMonitoringBed(
      { MONITORING_RULES_FILE: rulesFile, MONITORING_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts` },
      { now: () => clock },
    );
    raisedSub = bed.bus.nc.subscribe('nepse.v1.alerts.raised.>', {
      callback: (error, m) => {
        if (!error)
          raised.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', event: fromBinary(AlertRaisedSchema, m.data) });
      },
    });
    for (const symbol of SYMBOLS)
      await bed.bars(
        symbol,
        DAYS.map((date, k) => ({ date, close: closeOn(k) })),
      );
  });

  after(async () => {
    raisedSub?.unsubscribe();
    await bed?.stop();
    await new Promise((resolve) => hook?.close(resolve));
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
  });

  it('fires the directional-accuracy alert once for a model that always gets the sign wrong', async () => {
    await bed.predict(predictions(1, [0, 1, 2], false, 900));
    const [alert] = await waitFor(async () => {
      const alerts = await firing('direction_floor');
      return alerts.length === 1 ? alerts : undefined;
    }, 'the direction alert');
    assert.equal(alert.kind, AlertKind.DIRECTIONAL_ACCURACY);
    assert.equal(alert.severity, AlertSeverity.WARNING);
    assert.deepEqual({ ...alert.labels }, { model_name: 'flip', model_version: '1' });
    assert.equal(alert.value, 0, '30 scored predictions, every one of the wrong sign');
    assert.equal(alert.threshold, 0.45);
    assert.match(alert.summary, /directional accuracy 0\.0 % over 20 days \(30 scored/);
    const [slow] = await waitFor(() => firing('slow_predictions'), 'the latency alert');
    assert.equal(slow.value, 0.9, 'p99 in seconds');
    assert.deepEqual(await firing('stale_bars'), [], 'the next session has not closed yet by the clock');

    // Further evaluations (timer, new data) find it still firing: nothing new is raised.
    for (let i = 0; i < 3; i++) await bed.monitoring.evaluator.evaluate();
    await bed.predict(predictions(1, [2], false, 900));
    await waitFor(async () => raisedOf('direction_floor').length >= 1, 'AlertRaised');
    await bed.monitoring.evaluator.evaluate();
    assert.deepEqual(
      raisedOf('direction_floor').map((r) => [r.subject, r.msgId, r.event.alert?.state]),
      [['nepse.v1.alerts.raised._', `alerts.raised:${alert.alertId}:FIRING`, AlertState.FIRING]],
    );
    assert.deepEqual(
      (await firing('direction_floor')).map((a) => a.alertId),
      [alert.alertId],
    );
    assert.equal(
      await metricValue(bed.monitoring.metricsPort, 'nepse_monitoring_alerts_firing', {
        rule: 'direction_floor',
        kind: 'directional_accuracy',
        severity: 'warning',
      }),
      1,
    );
    assert.equal(await metricValue(bed.monitoring.metricsPort, 'nepse_model_directional_accuracy', { model: 'flip', version: '1' }), 0);
  });

  it('does not raise a firing alert again after a restart', async () => {
    const before = raised.length;
    await bed.restart({ now: () => clock });
    await bed.monitoring.evaluator.evaluate();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(raised.length, before);
    assert.equal((await firing('direction_floor')).length, 1);
  });

  it('resolves it (same alert, AlertRaised again) once a good version is served, and WatchAlerts shows both', async () => {
    const watcher = watch(bed, { includeFiring: true });
    const [alert] = await firing('direction_floor');
    await waitFor(() => watcher.seen.some((a) => a.alertId === alert.alertId), 'the firing alert first on the watch');
    await bed.predict(predictions(2, [3, 4, 5], true, 2));
    await waitFor(
      async () => (await bed.client.listAlerts({ rule: 'direction_floor', state: AlertState.RESOLVED })).alerts.length === 1,
      'the resolved alert',
    );
    const [resolved] = (await bed.client.listAlerts({ rule: 'direction_floor' })).alerts;
    assert.equal(resolved.alertId, alert.alertId);
    assert.equal(resolved.state, AlertState.RESOLVED);
    assert.ok(resolved.resolvedAt, 'resolved_at is set');
    await waitFor(() => raisedOf('direction_floor').length === 2, 'the second AlertRaised');
    assert.deepEqual(
      raisedOf('direction_floor').map((r) => [r.event.alert?.alertId, r.event.alert?.state, r.msgId]),
      [
        [alert.alertId, AlertState.FIRING, `alerts.raised:${alert.alertId}:FIRING`],
        [alert.alertId, AlertState.RESOLVED, `alerts.raised:${alert.alertId}:RESOLVED`],
      ],
    );
    await waitFor(
      () => watcher.seen.some((a) => a.alertId === alert.alertId && a.state === AlertState.RESOLVED),
      'the resolve on the watch',
    );
    await waitFor(() => watcher.heartbeats() > 0, 'a heartbeat');
    assert.equal(await watcher.stop(), 'cancelled');
    // v2 is served and right every time: no new episode for it, and the slow v1 is no longer served either.
    await bed.monitoring.evaluator.evaluate();
    assert.deepEqual(await firing('direction_floor'), []);
    assert.deepEqual(await firing('slow_predictions'), []);
    assert.equal(await metricValue(bed.monitoring.metricsPort, 'nepse_model_directional_accuracy', { model: 'flip', version: '2' }), 1);
    assert.equal(await metricValue(bed.monitoring.metricsPort, 'nepse_monitoring_alerts_firing', { rule: 'direction_floor' }), 0);
    await waitFor(() => posted.filter((p) => p.alert.alertId === alert.alertId).length === 2, 'both webhook posts');
    assert.deepEqual(
      posted.filter((p) => p.alert.alertId === alert.alertId).map((p) => p.state),
      ['FIRING', 'RESOLVED'],
    );
  });

  it('fires stale-bars alerts per symbol once a session closed without its bar, and resolves one when the bar comes', async () => {
    const critical = watch(bed, { minSeverity: AlertSeverity.CRITICAL });
    await waitFor(() => critical.heartbeats() > 0, 'the watch to start');
    clock = nepal('2024-01-10', '18:00'); // three hours after Wednesday's close, one more than the slack
    await bed.monitoring.evaluator.evaluate();
    const stale = await firing('stale_bars');
    assert.equal(stale.length, 10);
    assert.deepEqual(stale.map((a) => a.labels.symbol).sort(), SYMBOLS);
    assert.equal(stale[0].kind, AlertKind.STALE_BARS);
    assert.equal(stale[0].value, 3, 'hours past the close');
    assert.equal(stale[0].threshold, 2);
    // Pages of 4, newest first, with nothing repeated or left out.
    const pages: string[][] = [];
    let token = '';
    do {
      const page = await bed.client.listAlerts({ rule: 'stale_bars', pageSize: 4, pageToken: token });
      pages.push(page.alerts.map((a) => a.labels.symbol));
      token = page.nextPageToken;
    } while (token && pages.length < 10);
    assert.deepEqual(
      pages.map((p) => p.length),
      [4, 4, 2],
    );
    assert.deepEqual(pages.flat().sort(), SYMBOLS);

    await bed.bars('SYM0', [{ date: '2024-01-10', close: 100 }]);
    await waitFor(
      async () => (await bed.client.listAlerts({ symbol: 'SYM0', state: AlertState.RESOLVED })).alerts.length === 1,
      'SYM0 to resolve',
    );
    assert.equal((await firing('stale_bars')).length, 9);
    assert.deepEqual(
      raisedOf('stale_bars')
        .filter((r) => r.subject === 'nepse.v1.alerts.raised.SYM0')
        .map((r) => r.event.alert?.state),
      [AlertState.FIRING, AlertState.RESOLVED],
    );
    assert.equal(
      await metricValue(bed.monitoring.metricsPort, 'nepse_monitoring_alerts_firing', {
        rule: 'stale_bars',
        kind: 'stale_bars',
        severity: 'critical',
      }),
      9,
    );
    await waitFor(() => critical.seen.length === 11, 'ten firings and one resolve on the critical watch');
    assert.ok(critical.seen.every((a) => a.severity === AlertSeverity.CRITICAL));
    assert.equal(await critical.stop(), 'cancelled');
    const severe = await bed.client.listAlerts({ minSeverity: AlertSeverity.CRITICAL });
    assert.ok(severe.alerts.length === 10 && severe.alerts.every((a) => a.rule === 'stale_bars'));
    assert.deepEqual((await bed.client.listAlerts({ modelName: 'flip' })).alerts.map((a) => a.rule).sort(), [
      'direction_floor',
      'slow_predictions',
    ]);
  });
});
