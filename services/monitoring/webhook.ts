import { toJson } from '@bufbuild/protobuf';
import { Counter } from 'prom-client';
import { AlertSchema, AlertState, type Alert } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { metric, type Logger } from '../../lib/telemetry/index.js';

/**
 * POSTs every alert change as JSON (`{"state": "FIRING", "alert": {…proto JSON…}, "occurredAt": "…"}`)
 * to a configured URL. Fire and forget: evaluation never waits for it; a POST slower than the
 * timeout is abandoned; failures are logged and counted in
 * `nepse_monitoring_webhook_failures_total`, never retried (the alert stays listed and watchable).
 */
export class Webhook {
  private readonly inflight = new Set<Promise<void>>();
  private readonly failures = metric(
    'nepse_monitoring_webhook_failures_total',
    () => new Counter({ name: 'nepse_monitoring_webhook_failures_total', help: 'Alert webhook POSTs that failed or timed out.' }),
  );

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** Sends one change in the background. */
  send(alert: Alert, at: Date): void {
    const body = JSON.stringify({ state: AlertState[alert.state], alert: toJson(AlertSchema, alert), occurredAt: at.toISOString() });
    const post = fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    })
      .then(async (response) => {
        await response.body?.cancel();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      })
      .catch((error: Error) => {
        this.failures.inc();
        this.logger.warn({ alert: alert.alertId, err: error.message }, 'alert webhook failed');
      });
    const tracked = post.finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  /** Waits for POSTs in flight (each bounded by the timeout). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }
}
