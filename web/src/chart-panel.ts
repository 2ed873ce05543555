/**
 * The price chart of one symbol (TradingView lightweight-charts): daily candles, the closes the
 * model predicted for each session drawn against them as a dotted line — the past ones as
 * monitoring scored them (ListScoredPredictions), the streamed ones as they come — and the
 * predicted next close marked beyond the last candle. The container reports what it drew in data
 * attributes (`data-symbol`, `data-candles`, `data-predictions`, `data-scored`, `data-history`,
 * `data-next-close`) for tests and tools.
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  CrosshairMode,
  LineSeries,
  LineStyle,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import type { Bar } from '../../gen/nepse/market/v1/market_pb.js';
import type { ScoredPrediction } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { nextTradingDay } from '../../lib/market/calendar.js';
import { dayOf, escapeHtml, price, signedPct } from './format.js';

/** Chart time of an ISO day: midnight UTC, in seconds. */
const timeOf = (day: string) => (Date.parse(`${day}T00:00:00Z`) / 1000) as UTCTimestamp;

/** Colours shared with styles.css. */
export const COLORS = { up: '#16a34a', down: '#dc2626', predicted: '#7c3aed', grid: '#eef0f3', text: '#5b6473', border: '#dfe3e8' };

/** The candlestick chart panel. */
export class ChartPanel {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly predicted: ISeriesApi<'Line'>;
  private readonly markers: ISeriesMarkersPluginApi<Time>;
  /** Predictions shown, by feature day (one per session: the latest wins). */
  private readonly predictions = new Map<string, Prediction>();
  /** Past predictions of the symbol as monitoring scored them, by feature day. */
  private readonly past = new Map<string, ScoredPrediction>();
  private bars: Bar[] = [];
  private symbol = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly legend: HTMLElement,
  ) {
    this.chart = createChart(root, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: '#ffffff' },
        textColor: COLORS.text,
        fontFamily: 'Inter, system-ui, sans-serif',
        attributionLogo: true,
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, rightOffset: 4 },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: COLORS.up,
      downColor: COLORS.down,
      borderVisible: false,
      wickUpColor: COLORS.up,
      wickDownColor: COLORS.down,
      title: 'close',
    });
    this.predicted = this.chart.addSeries(LineSeries, {
      color: COLORS.predicted,
      lineWidth: 2,
      lineStyle: LineStyle.Dotted,
      pointMarkersVisible: true,
      pointMarkersRadius: 3,
      title: 'predicted',
      lastValueVisible: true,
      priceLineVisible: false,
    });
    this.markers = createSeriesMarkers(this.predicted, []);
  }

  /**
   * Shows a symbol's bars (ascending) and the predictions known for it, replacing what was there.
   * `bars` undefined (their service did not answer) keeps the bars shown if they are the symbol's.
   */
  show(symbol: string, bars: readonly Bar[] | undefined, predictions: readonly Prediction[]): void {
    const changed = symbol !== this.symbol;
    this.symbol = symbol;
    if (bars || changed) this.bars = [...(bars ?? [])];
    if (changed) this.past.clear();
    this.predictions.clear();
    for (const p of predictions) this.keep(p);
    this.candles.setData(this.bars.map((b) => ({ time: timeOf(dayOf(b.date)), open: b.open, high: b.high, low: b.low, close: b.close })));
    this.drawPredictions();
    // Opens on the last quarter-year, where the predictions are; the rest is a scroll away.
    if (changed) this.chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, this.bars.length - 65), to: this.bars.length + 2 });
  }

  /**
   * Shows the symbol's past predictions as monitoring holds them (newest first; the first of a
   * feature day wins), replacing the history shown. Another symbol's history is ignored.
   */
  showHistory(symbol: string, scored: readonly ScoredPrediction[]): void {
    if (symbol !== this.symbol) return;
    this.past.clear();
    for (const p of scored) {
      const day = dayOf(p.featureDate);
      if (day && !this.past.has(day)) this.past.set(day, p);
    }
    this.drawPredictions();
  }

  /** Adds a bar (a new session) or replaces the bar of its day. */
  addBar(bar: Bar): void {
    if (bar.symbol !== this.symbol) return;
    const day = dayOf(bar.date);
    const last = this.bars.at(-1);
    if (last && dayOf(last.date) > day) return;
    if (last && dayOf(last.date) === day) this.bars[this.bars.length - 1] = bar;
    else this.bars.push(bar);
    this.candles.update({ time: timeOf(day), open: bar.open, high: bar.high, low: bar.low, close: bar.close });
    this.drawPredictions();
  }

  /** Adds a prediction of the shown symbol (a streamed one). */
  addPrediction(prediction: Prediction): void {
    if (prediction.symbol !== this.symbol) return;
    this.keep(prediction);
    this.drawPredictions();
  }

  /** The prediction for the session after the last candle, if there is one. */
  next(): Prediction | undefined {
    const lastDay = dayOf(this.bars.at(-1)?.date);
    return lastDay ? this.predictions.get(lastDay) : undefined;
  }

  private keep(p: Prediction): void {
    const day = dayOf(p.featureDate);
    if (day) this.predictions.set(day, p);
  }

  private drawPredictions(): void {
    const days = [...new Set([...this.past.keys(), ...this.predictions.keys()])].sort();
    // Each prediction is drawn on the session it forecasts: its scored target day once its bar
    // came, else the trading day after its features. A streamed prediction is the latest word.
    const byTime = new Map<number, number>();
    let scored = 0;
    for (const day of days) {
      const past = this.past.get(day);
      const target = past?.scored ? dayOf(past.targetDate) : nextTradingDay(day);
      const value = this.predictions.get(day)?.predictedClose ?? past!.predictedClose;
      byTime.set(timeOf(target), value);
      if (past?.scored) scored++;
    }
    const points = [...byTime.entries()].sort(([a], [b]) => a - b).map(([time, value]) => ({ time: time as UTCTimestamp, value }));
    this.predicted.setData(points);
    const next = this.next();
    this.markers.setMarkers(
      next
        ? [
            {
              time: timeOf(nextTradingDay(dayOf(next.featureDate))),
              position: 'atPriceMiddle',
              price: next.predictedClose,
              shape: 'circle',
              color: COLORS.predicted,
              text: 'next',
            },
          ]
        : [],
    );
    this.root.dataset.symbol = this.symbol;
    this.root.dataset.candles = String(this.bars.length);
    this.root.dataset.predictions = String(points.length);
    this.root.dataset.scored = String(scored);
    this.root.dataset.history = String(this.past.size);
    this.root.dataset.nextClose = next ? next.predictedClose.toFixed(2) : '';
    this.drawLegend(next);
  }

  private drawLegend(next: Prediction | undefined): void {
    const last = this.bars.at(-1);
    if (!last) {
      this.legend.textContent = this.symbol ? `${this.symbol}: no bars yet` : '';
      return;
    }
    const parts = [`<strong>${escapeHtml(this.symbol)}</strong>`, `close ${price(last.close)} on ${dayOf(last.date)}`];
    if (next) {
      const move = Math.expm1(next.predictedReturn);
      parts.push(
        `<span class="predicted-chip">next close ${price(next.predictedClose)} <span class="${move >= 0 ? 'up' : 'down'}">${signedPct(move)}</span></span>`,
      );
      if (next.degraded) parts.push('<span class="badge warn" title="Predicted from stale features">degraded</span>');
    } else {
      parts.push('<span class="muted">no prediction for the next session yet</span>');
    }
    const scored = [...this.past.values()].filter((p) => p.scored);
    if (scored.length) {
      const mae = (f: (p: ScoredPrediction) => number) => scored.reduce((sum, p) => sum + f(p), 0) / scored.length;
      parts.push(
        `<span class="muted" title="Past predictions scored against the actual closes">${scored.length} scored · MAE ${price(mae((p) => p.absErrorClose))} vs no change ${price(mae((p) => p.noChangeAbsErrorClose))}</span>`,
      );
    }
    this.legend.innerHTML = parts.join('<span class="sep">·</span>');
  }
}
