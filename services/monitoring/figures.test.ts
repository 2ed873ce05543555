import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binIndex, isTradingDay, nextTradingDay } from '../../lib/market/index.js';
import { psi, PSI_EPSILON } from './psi.js';
import { scorePrediction } from './scoring.js';
import { hoursOverdue } from './bar-overdue.js';

describe('NEPSE session calendar', () => {
  it('knows Sunday to Thursday sessions and when a bar is overdue (Nepal time, 15:00 close)', () => {
    assert.deepEqual(['2024-01-12', '2024-01-13', '2024-01-14', '2024-01-18'].map(isTradingDay), [false, false, true, true]);
    assert.equal(nextTradingDay('2024-01-11'), '2024-01-14', 'Thursday → Sunday');
    assert.equal(nextTradingDay('2024-10-09'), '2024-10-14', 'over the Dashain holidays of 10, 11 and 13 October');
    const at = (iso: string) => Date.parse(iso);
    assert.equal(hoursOverdue('2024-01-11', at('2024-01-13T12:00:00+05:45'), '15:00'), 0, 'Saturday: nothing due');
    assert.equal(hoursOverdue('2024-01-11', at('2024-01-14T14:00:00+05:45'), '15:00'), 0, 'Sunday before the close');
    assert.equal(hoursOverdue('2024-01-11', at('2024-01-14T18:30:00+05:45'), '15:00'), 3.5);
  });
});

describe('population stability index', () => {
  it('bins like the contract (value on an edge goes right) and uses epsilon for empty bins', () => {
    assert.deepEqual(
      [-2, -1, 0, 0.5, 1, 5].map((v) => binIndex([-1, 0, 1], v)),
      [0, 1, 2, 2, 3, 3],
    );
    const bins = { binEdges: [0], binFractions: [0.5, 0.5] };
    assert.equal(psi([-1, 1, -2, 2], bins)?.psi, 0);
    // 3 of 4 left: (0.75 − 0.5)·ln(0.75/0.5) + (0.25 − 0.5)·ln(0.25/0.5)
    assert.ok(Math.abs(psi([-1, -1, -1, 1], bins)!.psi - (0.25 * Math.log(1.5) + -0.25 * Math.log(0.5))) < 1e-12);
    // Everything left: the empty right bin counts as ε.
    const all = psi([-1, -1], bins)!;
    assert.ok(Math.abs(all.psi - (0.5 * Math.log(2) + (PSI_EPSILON - 0.5) * Math.log(PSI_EPSILON / 0.5))) < 1e-12);
    assert.equal(psi([Number.NaN], bins), undefined);
    assert.equal(psi([1], { binEdges: [0], binFractions: [1] }), undefined, 'fractions must match the bins');
  });
});

describe('scoring one prediction', () => {
  it('computes the errors of the model and of NO_CHANGE', () => {
    const s = scorePrediction({ predictedReturn: -0.02, predictedClose: 98, baseClose: 100 }, 95);
    assert.ok(Math.abs(s.actualReturn - Math.log(0.95)) < 1e-15);
    assert.deepEqual([s.model.absClose, s.model.sqClose, s.model.hit, s.noChange.absClose, s.noChange.hit], [3, 9, 1, 5, 0]);
    assert.ok(Math.abs(s.model.apeClose - 3 / 95) < 1e-15);
    assert.equal(scorePrediction({ predictedReturn: 0, predictedClose: 100, baseClose: 100 }, 100).model.hit, 1, '0 predicted, 0 happened');
  });
});
