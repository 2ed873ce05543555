/**
 * The serving model: name, version and stage; its walk-forward backtest beside the two naive
 * baselines (no change, SMA-5 drift); its live figures beside no change; and the live error
 * against no change over time as a chart, one point per scored session as monitoring's
 * GetErrorSeries reports it (`data-live-points` counts them).
 */
import { ColorType, createChart, LineSeries, type IChartApi, type ISeriesApi, type UTCTimestamp } from 'lightweight-charts';
import { Baseline, type Evaluation, type ForecastMetrics } from '../../gen/nepse/market/v1/market_pb.js';
import type { GetErrorSeriesResponse, PerformanceReport } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { Stage, type ModelVersion } from '../../gen/nepse/registry/v1/registry_pb.js';
import { COLORS } from './chart-panel.js';
import { bp, dayOf, el, pct, price } from './format.js';

const STAGES: Record<number, string> = {
  [Stage.NONE]: 'None',
  [Stage.STAGING]: 'Staging',
  [Stage.PRODUCTION]: 'Production',
  [Stage.ARCHIVED]: 'Archived',
};

/** A row of a metrics table. */
interface MetricsRow {
  label: string;
  metrics: ForecastMetrics | undefined;
  model?: boolean;
}

const baselineOf = (evaluation: Evaluation | undefined, baseline: Baseline) =>
  evaluation?.baselines.find((b) => b.baseline === baseline)?.metrics;

/** The model panel. */
export class ModelPanel {
  private readonly chart: IChartApi;
  private readonly modelLine: ISeriesApi<'Line'>;
  private readonly noChangeLine: ISeriesApi<'Line'>;
  private key = '';

  constructor(private readonly root: HTMLElement) {
    const holder = root.querySelector<HTMLElement>('.live-chart')!;
    this.chart = createChart(holder, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: '#ffffff' },
        textColor: COLORS.text,
        fontFamily: 'Inter, system-ui, sans-serif',
        fontSize: 11,
        attributionLogo: false,
      },
      grid: { vertLines: { visible: false }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border },
      localization: { priceFormatter: (v: number) => `${(v * 10_000).toFixed(0)} bp` },
    });
    this.modelLine = this.chart.addSeries(LineSeries, { color: COLORS.predicted, lineWidth: 2, title: 'model', priceLineVisible: false });
    this.noChangeLine = this.chart.addSeries(LineSeries, { color: '#94a3b8', lineWidth: 2, title: 'no change', priceLineVisible: false });
  }

  /** Shows a model version and its live report (either may be missing). */
  show(model: ModelVersion | undefined, report: PerformanceReport | undefined): void {
    const key = model ? `${model.name}@${model.version}` : '';
    if (key !== this.key) {
      this.key = key;
      this.showErrors(undefined);
    }
    this.root.dataset.model = key;
    const head = this.root.querySelector<HTMLElement>('.model-head')!;
    if (!model) {
      head.replaceChildren(el('span', 'muted', 'No model in Production yet.'));
    } else {
      const stage = el('span', `badge stage-${(STAGES[model.stage] ?? 'none').toLowerCase()}`, STAGES[model.stage] ?? 'Unknown');
      const trained = model.trainingRange ? `trained on ${dayOf(model.trainingRange.start)} – ${dayOf(model.trainingRange.end)}` : '';
      head.replaceChildren(
        el('span', 'model-name', model.name),
        el('span', 'model-version', `v${model.version}`),
        stage,
        el('span', 'muted small', trained),
      );
    }
    const backtest = model?.backtest?.overall ?? report?.backtest;
    this.table(
      '.backtest',
      [
        { label: 'model', metrics: backtest?.model, model: true },
        { label: 'no change', metrics: baselineOf(backtest, Baseline.NO_CHANGE) },
        { label: 'SMA-5 drift', metrics: baselineOf(backtest, Baseline.SMA5_DRIFT) },
      ],
      model?.backtest ? `${model.backtest.foldCount} walk-forward folds` : '',
    );
    const live = report?.live;
    const window = report?.window ? `${dayOf(report.window.start)} – ${dayOf(report.window.end)}` : '';
    this.table(
      '.live',
      [
        { label: 'model', metrics: live?.model, model: true },
        { label: 'no change', metrics: baselineOf(live, Baseline.NO_CHANGE) },
      ],
      report ? `${window}${report.pendingPredictions ? ` · ${report.pendingPredictions} awaiting their bar` : ''}` : 'no live figures yet',
    );
  }

  private table(selector: string, rows: MetricsRow[], caption: string): void {
    const table = this.root.querySelector<HTMLTableElement>(selector)!;
    const head = el('tr');
    for (const h of ['', 'n', 'MAE return', 'MAE close', 'direction']) head.append(el('th', '', h));
    const body = rows.map((r) => {
      const tr = el('tr', r.model ? 'model-row' : '');
      const m = r.metrics;
      const cells =
        m && m.count > 0n
          ? [String(m.count), bp(m.maeReturn), price(m.maeClose), r.label === 'no change' ? '–' : pct(m.directionalAccuracy)]
          : ['–', '–', '–', '–'];
      tr.append(el('th', '', r.label), ...cells.map((c) => el('td', '', c)));
      return tr;
    });
    const modelMae = rows[0].metrics?.maeReturn ?? 0;
    const noChangeMae = rows[1].metrics?.maeReturn ?? 0;
    if (modelMae && noChangeMae) body[0].classList.add(modelMae < noChangeMae ? 'better' : 'worse');
    table.replaceChildren(el('caption', '', caption), el('thead'), el('tbody'));
    table.tHead!.append(head);
    table.tBodies[0].append(...body);
  }

  /**
   * Draws the model's live error over time (MAE of the return per scored day, rolling as the
   * series says) beside no change; a series of another model than the one shown is ignored, and
   * none clears the chart.
   */
  showErrors(series: GetErrorSeriesResponse | undefined): void {
    if (series && `${series.modelName}@${series.modelVersion}` !== this.key) return;
    const points = series?.points ?? [];
    const time = (day: string) => (Date.parse(`${day}T00:00:00Z`) / 1000) as UTCTimestamp;
    this.modelLine.setData(points.map((p) => ({ time: time(dayOf(p.targetDate)), value: p.maeReturn })));
    this.noChangeLine.setData(points.map((p) => ({ time: time(dayOf(p.targetDate)), value: p.noChangeMaeReturn })));
    this.chart.timeScale().fitContent();
    this.root.dataset.livePoints = String(points.length);
    this.root.dataset.rollingDays = String(series?.rollingDays ?? '');
  }
}
