import { create } from '@bufbuild/protobuf';
import { Baseline, BacktestReportSchema, type BacktestReport, type Evaluation } from '../../gen/nepse/market/v1/market_pb.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { ForecastFigures } from './models/metrics.js';
import type { FoldResult, WalkForwardResult } from './models/walk-forward.js';

const metricsOf = (m: ForecastFigures) => ({
  count: BigInt(m.count),
  maeReturn: m.maeReturn,
  rmseReturn: m.rmseReturn,
  maeClose: m.maeClose,
  rmseClose: m.rmseClose,
  mapeClose: m.mapeClose,
  directionalAccuracy: m.directionalAccuracy,
});

/** A model's figures beside both baselines', as the contracts carry them. */
export function evaluation(figures: { model: ForecastFigures; noChange: ForecastFigures; sma5Drift: ForecastFigures }): Evaluation {
  return {
    $typeName: 'nepse.market.v1.Evaluation',
    model: { $typeName: 'nepse.market.v1.ForecastMetrics', ...metricsOf(figures.model) },
    baselines: [
      {
        $typeName: 'nepse.market.v1.BaselineMetrics',
        baseline: Baseline.NO_CHANGE,
        metrics: { $typeName: 'nepse.market.v1.ForecastMetrics', ...metricsOf(figures.noChange) },
      },
      {
        $typeName: 'nepse.market.v1.BaselineMetrics',
        baseline: Baseline.SMA5_DRIFT,
        metrics: { $typeName: 'nepse.market.v1.ForecastMetrics', ...metricsOf(figures.sma5Drift) },
      },
    ],
  };
}

/** The contract form of a walk-forward backtest, complete or with the folds done so far. */
export function backtestReport(foldCount: number, folds: readonly FoldResult[], result?: WalkForwardResult): BacktestReport {
  return create(BacktestReportSchema, {
    foldCount,
    folds: folds.map((f) => ({
      fold: f.fold,
      trainRange: { start: toProtoDate(f.trainRange.start), end: toProtoDate(f.trainRange.end) },
      testRange: { start: toProtoDate(f.testRange.start), end: toProtoDate(f.testRange.end) },
      evaluation: evaluation(f),
    })),
    overall: result ? evaluation(result.overall) : undefined,
  });
}
