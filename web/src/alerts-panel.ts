/**
 * Live alerts from WatchAlerts: those firing when the stream opens, then every raise and resolve
 * as monitoring announces it. Firing alerts stay on top; resolved ones fade below them.
 */
import { AlertSeverity, AlertState, type Alert } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { ago, el, msOf } from './format.js';

const SEVERITY: Record<number, string> = {
  [AlertSeverity.INFO]: 'info',
  [AlertSeverity.WARNING]: 'warning',
  [AlertSeverity.CRITICAL]: 'critical',
};
/** Resolved alerts kept on screen at most. */
const KEEP_RESOLVED = 20;

/** The alerts panel. */
export class AlertsPanel {
  private readonly alerts = new Map<string, Alert>();
  private readonly list: HTMLUListElement;

  constructor(private readonly root: HTMLElement) {
    this.list = root.querySelector('ul')!;
    this.draw();
    // Keeps the "started … ago" texts true.
    setInterval(() => this.draw(), 30_000);
  }

  /** Records an alert (new, or a new state of a known one). */
  add(alert: Alert): void {
    this.alerts.set(alert.alertId, alert);
    const resolved = [...this.alerts.values()]
      .filter((a) => a.state === AlertState.RESOLVED)
      .sort((a, b) => msOf(b.resolvedAt) - msOf(a.resolvedAt));
    for (const old of resolved.slice(KEEP_RESOLVED)) this.alerts.delete(old.alertId);
    this.draw();
  }

  private draw(): void {
    const sorted = [...this.alerts.values()].sort(
      (a, b) =>
        Number(a.state === AlertState.RESOLVED) - Number(b.state === AlertState.RESOLVED) ||
        b.severity - a.severity ||
        msOf(b.startedAt) - msOf(a.startedAt),
    );
    const firing = sorted.filter((a) => a.state === AlertState.FIRING).length;
    this.root.dataset.firing = String(firing);
    this.root.dataset.count = String(sorted.length);
    const counter = this.root.querySelector<HTMLElement>('.count');
    if (counter) {
      counter.textContent = String(firing);
      counter.classList.toggle('hot', firing > 0);
    }
    if (sorted.length === 0) {
      this.list.replaceChildren(el('li', 'empty', 'No alerts. Monitoring raises one when a rule is broken.'));
      return;
    }
    this.list.replaceChildren(...sorted.map((a) => this.item(a)));
  }

  private item(a: Alert): HTMLLIElement {
    const resolved = a.state === AlertState.RESOLVED;
    const li = el('li', `alert ${SEVERITY[a.severity] ?? 'info'}${resolved ? ' resolved' : ''}`);
    li.dataset.alertId = a.alertId;
    li.dataset.rule = a.rule;
    const labels = Object.entries(a.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const when = resolved ? `resolved ${ago(msOf(a.resolvedAt))}` : `firing since ${ago(msOf(a.startedAt))}`;
    li.append(el('span', 'severity', SEVERITY[a.severity] ?? '?'), el('div', 'alert-body'));
    const body = li.lastElementChild as HTMLElement;
    body.append(
      el('div', 'alert-title', `${a.rule}${labels ? ` · ${labels}` : ''}`),
      el('div', 'alert-summary', a.summary),
      el('div', 'muted small', when),
    );
    return li;
  }
}
