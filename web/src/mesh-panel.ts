/**
 * The mesh's health from GetMeshStatus: each service and dependency with its state, check latency
 * and detail, its version and the lag of its JetStream consumers, refreshed periodically.
 */
import { ServingState, type ComponentStatus, type GetMeshStatusResponse } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { clock, el, msOf } from './format.js';

const STATE: Record<number, [string, string]> = {
  [ServingState.SERVING]: ['serving', 'ok'],
  [ServingState.NOT_SERVING]: ['not serving', 'bad'],
  [ServingState.UNREACHABLE]: ['unreachable', 'bad'],
  [ServingState.UNSPECIFIED]: ['unknown', 'unknown'],
};

/** The mesh status panel. */
export class MeshPanel {
  constructor(private readonly root: HTMLElement) {}

  /** Shows a status answer. */
  show(status: GetMeshStatusResponse): void {
    const table = this.root.querySelector('table')!;
    table.tBodies[0].replaceChildren(...status.components.map((c) => this.row(c)));
    const summary = this.root.querySelector<HTMLElement>('.mesh-summary')!;
    summary.textContent = `${status.healthy ? 'all healthy' : 'degraded'} · ${clock(msOf(status.checkedAt))}`;
    summary.className = `mesh-summary ${status.healthy ? 'ok' : 'bad'}`;
    this.root.dataset.healthy = String(status.healthy);
    this.root.dataset.components = String(status.components.length);
  }

  /** Shows that the status could not be read. */
  failed(message: string): void {
    const summary = this.root.querySelector<HTMLElement>('.mesh-summary')!;
    summary.textContent = message;
    summary.className = 'mesh-summary bad';
  }

  private row(c: ComponentStatus): HTMLTableRowElement {
    const [label, tone] = STATE[c.state] ?? STATE[ServingState.UNSPECIFIED];
    const tr = el('tr');
    tr.dataset.component = c.name;
    const state = el('td', 'state');
    state.append(el('span', `dot ${tone}`), document.createTextNode(label));
    state.title = c.detail;
    // Lag: messages its durable consumers have not been delivered yet, summed; each one on hover.
    const lag = c.consumers.length ? String(c.consumers.reduce((n, x) => n + x.pending, 0n)) : '–';
    const lagCell = el('td', 'num', lag);
    lagCell.title = c.consumers.map((x) => `${x.durable}: ${x.pending} pending, ${x.ackPending} awaiting ack`).join('\n');
    const name = el('td', 'component');
    name.append(el('strong', '', c.name), el('span', 'muted small', c.address));
    tr.append(
      name,
      state,
      el('td', 'num version', c.version || '–'),
      lagCell,
      el('td', 'num', c.latencyMs ? `${c.latencyMs.toFixed(1)} ms` : '–'),
    );
    return tr;
  }
}
