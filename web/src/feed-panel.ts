/**
 * Predictions as they stream in (WatchPredictions over Connect server streaming): the newest on
 * top, each with its model version, predicted close and move, briefly highlighted on arrival.
 */
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { clock, dayOf, el, msOf, price, signedPct } from './format.js';

/** Rows kept at most. */
const KEEP = 60;

/** The live predictions panel. */
export class FeedPanel {
  private readonly list: HTMLOListElement;
  private received = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly onSelect: (symbol: string) => void,
  ) {
    this.list = root.querySelector('ol')!;
    this.list.append(el('li', 'empty', 'Waiting for predictions: one arrives with each new bar.'));
    root.dataset.count = '0';
  }

  /** Adds a streamed prediction on top. */
  add(p: Prediction): void {
    if (this.received++ === 0) this.list.replaceChildren();
    const move = Math.expm1(p.predictedReturn);
    const li = el('li', 'new');
    li.dataset.symbol = p.symbol;
    li.dataset.featureDate = dayOf(p.featureDate);
    li.append(
      el('span', 'time', clock(msOf(p.predictedAt) || Date.now())),
      el('span', 'ticker', p.symbol),
      el('span', 'close', price(p.predictedClose)),
      el('span', `move ${move > 0 ? 'up' : move < 0 ? 'down' : 'flat'}`, signedPct(move)),
      el('span', 'muted small', `${p.modelName} v${p.modelVersion} · from ${dayOf(p.featureDate)}${p.degraded ? ' · degraded' : ''}`),
    );
    li.addEventListener('click', () => this.onSelect(p.symbol));
    this.list.prepend(li);
    while (this.list.children.length > KEEP) this.list.lastElementChild!.remove();
    this.root.dataset.count = String(this.received);
  }

  /** Shows the stream's state next to the title. */
  status(text: string, live: boolean): void {
    const node = this.root.querySelector<HTMLElement>('.stream-state');
    if (!node) return;
    node.textContent = text;
    node.classList.toggle('live', live);
  }
}
