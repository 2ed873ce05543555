import { PromotionOutcome } from '../../gen/nepse/training/v1/training_pb.js';

/** Whether a model may be promoted automatically, and why, from its holdout figures. */
export interface Verdict {
  qualifies: boolean;
  reason: string;
}

/**
 * The auto-promotion rule: a model qualifies only when its holdout MAE of the return beats the
 * "no change" baseline's by the margin, model_mae < (1 - margin) * baseline_mae. A model that
 * cannot beat doing nothing is never promoted automatically.
 */
export function promotionVerdict(modelMae: number, baselineMae: number, margin: number): Verdict {
  const improvement = baselineMae > 0 ? 1 - modelMae / baselineMae : 0;
  const versus = `${(Math.abs(improvement) * 100).toFixed(1)} % ${improvement >= 0 ? 'better' : 'worse'}`;
  const figures = `holdout MAE ${modelMae.toPrecision(4)} vs no-change ${baselineMae.toPrecision(4)}: ${versus}, margin ${(margin * 100).toFixed(1)} %`;
  const qualifies = Number.isFinite(modelMae) && baselineMae > 0 && modelMae < (1 - margin) * baselineMae;
  return { qualifies, reason: qualifies ? figures : `does not beat the no-change baseline by the margin (${figures})` };
}

export { PromotionOutcome };
