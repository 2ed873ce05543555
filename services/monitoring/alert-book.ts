/**
 * The alerts: one episode per rule and subject, created when its condition starts to hold and
 * resolved (same alert_id) when it clears, never duplicated while it keeps firing. Every state is
 * stored before it is announced, so a restart neither re-raises a firing alert nor loses an
 * announcement: AlertRaised goes out through an outbox (the `announced` flag), in order, retried
 * until JetStream acknowledges it (Nats-Msg-Id `alerts.raised:<alert_id>:<state>` makes a retry
 * harmless). Watchers, the firing gauge and the webhook hear of each change.
 */
import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Gauge } from 'prom-client';
import { AlertRaisedSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { AlertSchema, AlertState, type Alert } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { NO_KEY, type EventBus } from '../../lib/events/index.js';
import { metric, type Logger } from '../../lib/telemetry/index.js';
import { KIND_OF, SEVERITY_OF, type Rule } from './rules.js';
import type { AlertRow, MonitoringStore } from './store.js';
import type { Webhook } from './webhook.js';

/** What a rule found about one subject (a model version, a feature, a symbol). */
export interface Observation {
  /** The subject, unique within the rule, e.g. `nepse-ridge|3`. */
  key: string;
  labels: Record<string, string>;
  firing: boolean;
  value: number;
  threshold: number;
  summary: string;
}

/** One evaluation of one rule. */
export interface RuleOutcome {
  rule: Rule;
  observations: Observation[];
  /**
   * Subjects that could not be checked this time (too few data, registry down): their alerts stay
   * as they are. Firing alerts of the rule whose subject is neither observed nor kept resolve:
   * the subject is gone (a version no longer served, a delisted symbol).
   */
  keep: (key: string) => boolean;
}

const KIND_LABEL: Record<number, string> = Object.fromEntries(Object.entries(KIND_OF).map(([name, kind]) => [kind, name]));
const SEVERITY_LABEL: Record<number, string> = Object.fromEntries(Object.entries(SEVERITY_OF).map(([name, severity]) => [severity, name]));

/** `nepse_monitoring_alerts_firing{rule,kind,severity}`. */
function firingGauge(): Gauge<'rule' | 'kind' | 'severity'> {
  return metric(
    'nepse_monitoring_alerts_firing',
    () =>
      new Gauge({
        name: 'nepse_monitoring_alerts_firing',
        help: 'Alerts firing now, by rule, kind and severity.',
        labelNames: ['rule', 'kind', 'severity'],
      }),
  );
}

/** The proto form of a stored alert. */
export function toAlert(row: AlertRow): Alert {
  return create(AlertSchema, {
    alertId: row.alertId,
    rule: row.rule,
    kind: row.kind,
    severity: row.severity,
    state: row.state,
    labels: row.labels,
    value: row.value,
    threshold: row.threshold,
    summary: row.summary,
    startedAt: timestampFromDate(row.startedAt),
    resolvedAt: row.resolvedAt ? timestampFromDate(row.resolvedAt) : undefined,
  });
}

/** Dependencies of {@link AlertBook}. */
export interface AlertBookDeps {
  store: MonitoringStore;
  events: EventBus;
  webhook: Webhook | undefined;
  logger: Logger;
}

/** The alert state machine with its store, outbox, watchers and gauge. */
export class AlertBook {
  /** Firing alerts by `<rule>|<subject>`. */
  private readonly firing = new Map<string, AlertRow>();
  /** State changes stored but not yet acknowledged by JetStream, in order. */
  private readonly outbox: { row: AlertRow; at: Date }[] = [];
  private readonly listeners = new Set<(alert: Alert) => void>();
  private readonly gauge = firingGauge();
  private pumping: Promise<void> | undefined;

  constructor(private readonly deps: AlertBookDeps) {}

  /** Resumes after a restart: firing alerts stay firing, unannounced changes are announced. */
  async load(): Promise<void> {
    for (const row of await this.deps.store.openAlerts(AlertState.FIRING)) {
      if (row.state === AlertState.FIRING) this.firing.set(row.key, row);
      if (!row.announced) this.outbox.push({ row, at: row.resolvedAt ?? row.startedAt });
    }
    this.updateGauge();
  }

  /** Alerts firing now, newest first. */
  firingAlerts(): Alert[] {
    return [...this.firing.values()].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime()).map(toAlert);
  }

  /** Calls `listener` with every alert that starts firing or resolves; returns the unsubscribe function. */
  subscribe(listener: (alert: Alert) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one rule's evaluation: raises, updates and resolves its alerts. */
  async apply(outcome: RuleOutcome, now: Date): Promise<void> {
    const { rule } = outcome;
    const changes: AlertRow[] = [];
    const updates: AlertRow[] = [];
    const observed = new Set<string>();
    for (const o of outcome.observations) {
      const key = `${rule.name}|${o.key}`;
      observed.add(key);
      const current = this.firing.get(key);
      if (o.firing && !current) {
        changes.push({
          alertId: randomUUID(),
          key,
          rule: rule.name,
          kind: KIND_OF[rule.kind],
          severity: SEVERITY_OF[rule.severity],
          state: AlertState.FIRING,
          labels: o.labels,
          value: o.value,
          threshold: o.threshold,
          summary: o.summary,
          startedAt: now,
          resolvedAt: undefined,
          announced: false,
        });
      } else if (o.firing && current) {
        if (current.value !== o.value || current.summary !== o.summary)
          updates.push({ ...current, value: o.value, threshold: o.threshold, summary: o.summary });
      } else if (!o.firing && current) {
        changes.push({
          ...current,
          state: AlertState.RESOLVED,
          value: o.value,
          summary: `resolved: ${o.summary}`,
          resolvedAt: now,
          announced: false,
        });
      }
    }
    const prefix = `${rule.name}|`;
    for (const [key, current] of this.firing) {
      if (!key.startsWith(prefix) || observed.has(key) || outcome.keep(key.slice(prefix.length))) continue;
      changes.push({
        ...current,
        state: AlertState.RESOLVED,
        summary: `resolved: no longer in scope (${current.summary})`,
        resolvedAt: now,
        announced: false,
      });
    }
    if (changes.length + updates.length === 0) return;
    // Stored first: what is announced or shown to watchers is what a restart will find.
    await this.deps.store.saveAlerts([...changes, ...updates]);
    for (const row of updates) this.firing.set(row.key, row);
    for (const row of changes) {
      if (row.state === AlertState.FIRING) this.firing.set(row.key, row);
      else this.firing.delete(row.key);
      this.outbox.push({ row, at: now });
      const alert = toAlert(row);
      for (const listener of this.listeners) listener(alert);
      this.deps.webhook?.send(alert, now);
      this.deps.logger.info(
        { alert: row.alertId, rule: row.rule, state: AlertState[row.state], labels: row.labels, value: row.value },
        row.summary,
      );
    }
    if (changes.length) this.updateGauge();
  }

  /** Announces what the outbox holds, in order; stops at the first failure (retried on the next call). */
  announce(): Promise<void> {
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  /** Changes stored but not yet announced. */
  unannounced(): number {
    return this.outbox.length;
  }

  private async pump(): Promise<void> {
    while (this.outbox.length > 0) {
      const { row, at } = this.outbox[0];
      const state = row.state === AlertState.FIRING ? 'FIRING' : 'RESOLVED';
      try {
        await this.deps.events.publish(
          MeshEvents.alertRaised,
          row.labels.symbol || NO_KEY,
          create(AlertRaisedSchema, { alert: toAlert(row), occurredAt: timestampFromDate(at) }),
          {
            msgId: `alerts.raised:${row.alertId}:${state}`,
          },
        );
      } catch (error) {
        this.deps.logger.warn(
          { alert: row.alertId, err: (error as Error).message },
          'AlertRaised not published; retrying with the next evaluation',
        );
        return;
      }
      this.outbox.shift();
      // Flag the stored row only if it is still the alert's latest state; a newer one has its own flag.
      const latest = this.firing.get(row.key);
      const superseded =
        this.outbox.some((o) => o.row.alertId === row.alertId) ||
        (latest !== undefined && latest.alertId === row.alertId && latest.state !== row.state);
      if (!superseded) {
        const current = latest?.alertId === row.alertId ? latest : row;
        await this.deps.store.saveAlerts([{ ...current, announced: true }]);
        if (latest?.alertId === row.alertId) this.firing.set(row.key, { ...latest, announced: true });
      }
    }
  }

  private updateGauge(): void {
    const counts = new Map<string, { rule: string; kind: string; severity: string; n: number }>();
    for (const row of this.firing.values()) {
      const id = `${row.rule}|${row.kind}|${row.severity}`;
      const entry = counts.get(id) ?? {
        rule: row.rule,
        kind: KIND_LABEL[row.kind] ?? String(row.kind),
        severity: SEVERITY_LABEL[row.severity] ?? String(row.severity),
        n: 0,
      };
      entry.n++;
      counts.set(id, entry);
    }
    this.gauge.reset();
    for (const { rule, kind, severity, n } of counts.values()) this.gauge.set({ rule, kind, severity }, n);
  }
}
