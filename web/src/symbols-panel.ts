/**
 * The symbol list: every symbol with its last close, the day's move and the latest predicted
 * move, filtered by a search box, one selected. Predictions streamed in later update their row.
 */
import type { SymbolSummary } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { el, price, signedPct } from './format.js';

/** What the list shows of one symbol. */
interface Row {
  symbol: string;
  close?: number;
  change?: number;
  predictedReturn?: number;
  node: HTMLLIElement;
}

/** The symbol list panel. */
export class SymbolsPanel {
  private readonly rows = new Map<string, Row>();
  private readonly list: HTMLUListElement;
  private readonly search: HTMLInputElement;
  private selected = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly onSelect: (symbol: string) => void,
  ) {
    this.search = root.querySelector('input[type=search]')!;
    this.list = root.querySelector('ul')!;
    this.search.addEventListener('input', () => this.filter());
    this.search.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      const first = [...this.rows.values()].find((r) => !r.node.hidden);
      if (first) this.onSelect(first.symbol);
    });
  }

  /** Replaces the list with `symbols` (ascending, as the gateway sends them). */
  show(symbols: readonly SymbolSummary[]): void {
    this.rows.clear();
    this.list.replaceChildren();
    for (const s of symbols) {
      const bar = s.info?.lastBar;
      const row: Row = {
        symbol: s.info?.symbol ?? '',
        close: bar?.close,
        change: bar && bar.open ? bar.close / bar.open - 1 : undefined,
        node: el('li'),
      };
      if (s.latestPrediction) row.predictedReturn = Math.expm1(s.latestPrediction.predictedReturn);
      row.node.dataset.symbol = row.symbol;
      row.node.tabIndex = 0;
      row.node.addEventListener('click', () => this.onSelect(row.symbol));
      row.node.addEventListener('keydown', (event) => event.key === 'Enter' && this.onSelect(row.symbol));
      this.rows.set(row.symbol, row);
      this.draw(row);
      this.list.append(row.node);
    }
    this.root.dataset.count = String(this.rows.size);
    this.filter();
    this.select(this.selected);
  }

  /** Symbols in the list, in order. */
  symbols(): string[] {
    return [...this.rows.keys()];
  }

  /** Marks `symbol` as the selected one. */
  select(symbol: string): void {
    this.selected = symbol;
    for (const row of this.rows.values()) row.node.classList.toggle('selected', row.symbol === symbol);
  }

  /** Updates a symbol's predicted move from a streamed prediction. */
  predicted(prediction: Prediction): void {
    const row = this.rows.get(prediction.symbol);
    if (!row) return;
    row.predictedReturn = Math.expm1(prediction.predictedReturn);
    if (prediction.baseClose) row.close = prediction.baseClose;
    this.draw(row);
    row.node.classList.remove('flash');
    void row.node.offsetWidth; // restart the animation
    row.node.classList.add('flash');
  }

  private draw(row: Row): void {
    const move = (value: number | undefined, className: string) => {
      const node = el('span', className, value === undefined ? '–' : signedPct(value));
      if (value !== undefined) node.classList.add(value > 0 ? 'up' : value < 0 ? 'down' : 'flat');
      return node;
    };
    const predicted = move(row.predictedReturn, 'predicted');
    predicted.title = 'Predicted move to the next close';
    row.node.replaceChildren(
      el('span', 'ticker', row.symbol),
      el('span', 'close', price(row.close)),
      move(row.change, 'change'),
      predicted,
    );
  }

  private filter(): void {
    const query = this.search.value.trim().toUpperCase();
    let shown = 0;
    for (const row of this.rows.values()) {
      row.node.hidden = query !== '' && !row.symbol.includes(query);
      if (!row.node.hidden) shown++;
    }
    this.root.dataset.shown = String(shown);
  }
}
