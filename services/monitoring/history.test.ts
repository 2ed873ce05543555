/**
 * A symbol's past predictions against the actual closes (ListScoredPredictions) and a model's
 * live error over time beside NO_CHANGE (GetErrorSeries), read from the real monitoring service
 * after it consumed PredictionsMade and BarsIngested from a real nats-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ScoredPrediction } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { grpc } from '../../lib/grpc/index.js';
import { dayOf, toProtoDate } from '../../lib/market/index.js';
import { failure } from '../../testing/calls.js';
import { startMonitoringBed, type MonitoringBed } from '../../testing/monitoring-bed.js';

const close = (actual: number, expected: number, what: string, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected} (±${tolerance})`);

// Errors per prediction, computed by hand (actual return r = ln(next close / base close)):
//   NABIL 1 Jan: base 100, p  0.05 → 105.1271096; 2 Jan closes 110: |e_r| 0.0453102, |e_c| 4.8728904; NO_CHANGE 0.0953102, 10
//   NABIL 2 Jan: base 110, p  0.02 → 112.2221474; 3 Jan closes  99: |e_r| 0.1253605, |e_c| 13.2221474; NO_CHANGE 0.1053605, 11
//   NABIL 3 Jan: base  99, p -0.01 →  98.0149335; 4 Jan closes 100: |e_r| 0.0200503, |e_c| 1.9850665; NO_CHANGE 0.0100503, 1
//   NICA  1 Jan: base 200, p  0.01 → 202.0100334; 2 Jan closes 200: |e_r| 0.01, |e_c| 2.0100334; NO_CHANGE 0, 0
const E = {
  nabil1: { r: 0.0453102, c: 4.8728904, br: 0.0953102, bc: 10 },
  nabil2: { r: 0.1253605, c: 13.2221474, br: 0.1053605, bc: 11 },
  nabil3: { r: 0.0200503, c: 1.9850665, br: 0.0100503, bc: 1 },
  nica1: { r: 0.01, c: 2.0100334, br: 0, bc: 0 },
};

describe('monitoring: past predictions against actual closes, and the live error over time', () => {
  let bed: MonitoringBed;
  const model = 'hand';
  const list = (request: Record<string, unknown>) => bed.client.listScoredPredictions({ symbol: 'NABIL', ...request });
  const byDay = (rows: readonly ScoredPrediction[]) =>
    rows.map((p) => `${p.modelName}@${p.modelVersion} ${dayOf(p.featureDate)}→${dayOf(p.targetDate) || 'pending'}`);

  before(async () => {
    bed = await startMonitoringBed({}, { rules: [] });
    await bed.bars('NABIL', [
      { date: '2024-01-01', close: 100 },
      { date: '2024-01-02', close: 110 },
      { date: '2024-01-03', close: 99 },
    ]);
    await bed.bars('NICA', [
      { date: '2024-01-01', close: 200 },
      { date: '2024-01-02', close: 200 },
    ]);
    await bed.predict([
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-01', baseClose: 100, predictedReturn: 0.05, predictedClose: 105.1271096 },
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-02', baseClose: 110, predictedReturn: 0.02, predictedClose: 112.2221474 },
      { model, version: 1, symbol: 'NABIL', featureDate: '2024-01-03', baseClose: 99, predictedReturn: -0.01, predictedClose: 98.0149335 },
      { model, version: 1, symbol: 'NICA', featureDate: '2024-01-01', baseClose: 200, predictedReturn: 0.01 },
      { model: 'other', version: 3, symbol: 'NABIL', featureDate: '2024-01-02', baseClose: 110, predictedReturn: 0 },
    ]);
    await waitFor(
      async () => (await list({ modelName: model })).predictions.filter((p) => p.scored).length === 2,
      'the NABIL predictions whose bars came first to be scored',
    );
  });

  after(async () => {
    await bed?.stop();
  });

  it('lists a prediction as pending until its bar arrives, then with the actual close and both errors', async () => {
    const before = (await list({ modelName: model })).predictions;
    assert.deepEqual(byDay(before), ['hand@1 2024-01-03→pending', 'hand@1 2024-01-02→2024-01-03', 'hand@1 2024-01-01→2024-01-02']);
    assert.equal(before[0].actualClose, 0);
    close(before[0].predictedClose, 98.0149335, 'predicted close of the pending prediction');

    await bed.bars('NABIL', [{ date: '2024-01-04', close: 100 }]);
    const rows = await waitFor(async () => {
      const { predictions } = await list({ modelName: model, modelVersion: 1 });
      return predictions[0]?.scored ? predictions : undefined;
    }, 'the prediction of 3 January to be scored once its bar came');
    assert.deepEqual(byDay(rows), ['hand@1 2024-01-03→2024-01-04', 'hand@1 2024-01-02→2024-01-03', 'hand@1 2024-01-01→2024-01-02']);
    const expected = [E.nabil3, E.nabil2, E.nabil1];
    const actual = [100, 99, 110];
    rows.forEach((p, i) => {
      const day = dayOf(p.featureDate);
      close(p.actualClose, actual[i], `actual close after ${day}`);
      close(p.absErrorReturn, expected[i].r, `|error| of the return from ${day}`);
      close(p.absErrorClose, expected[i].c, `|error| of the close from ${day}`, 1e-5);
      close(p.noChangeAbsErrorReturn, expected[i].br, `NO_CHANGE |error| of the return from ${day}`);
      close(p.noChangeAbsErrorClose, expected[i].bc, `NO_CHANGE |error| of the close from ${day}`);
      close(p.actualReturn, Math.log(actual[i] / p.baseClose), `actual return from ${day}`);
      assert.ok(p.predictedAt, 'when it was predicted');
    });
  });

  it('lists every model of the symbol in pages, and narrows to a range of feature days', async () => {
    const all = (await list({})).predictions;
    assert.deepEqual(byDay(all), [
      'hand@1 2024-01-03→2024-01-04',
      'other@3 2024-01-02→2024-01-03',
      'hand@1 2024-01-02→2024-01-03',
      'hand@1 2024-01-01→2024-01-02',
    ]);
    const first = await list({ pageSize: 3 });
    assert.equal(first.predictions.length, 3);
    assert.notEqual(first.nextPageToken, '');
    const second = await list({ pageSize: 3, pageToken: first.nextPageToken });
    assert.equal(second.nextPageToken, '', 'the second page is the last');
    assert.deepEqual(byDay([...first.predictions, ...second.predictions]), byDay(all));
    const ranged = await list({ range: { start: toProtoDate('2024-01-02'), end: toProtoDate('2024-01-02') } });
    assert.deepEqual(byDay(ranged.predictions), ['other@3 2024-01-02→2024-01-03', 'hand@1 2024-01-02→2024-01-03']);
    assert.deepEqual((await list({ symbol: 'NICA', modelName: 'other' })).predictions, []);
  });

  it('gives the error of each scored day beside NO_CHANGE, pooled over symbols or for one', async () => {
    const { points, rollingDays } = await bed.client.getErrorSeries({ modelName: model, modelVersion: 1 });
    assert.equal(rollingDays, 1);
    assert.deepEqual(
      points.map((p) => [dayOf(p.targetDate), Number(p.count)]),
      [
        ['2024-01-02', 2],
        ['2024-01-03', 1],
        ['2024-01-04', 1],
      ],
    );
    close(points[0].maeReturn, (E.nabil1.r + E.nica1.r) / 2, 'MAE of 2 January, NABIL and NICA');
    close(points[0].noChangeMaeReturn, (E.nabil1.br + E.nica1.br) / 2, 'NO_CHANGE MAE of 2 January');
    close(points[0].maeClose, (E.nabil1.c + E.nica1.c) / 2, 'MAE of the close on 2 January', 1e-5);
    close(points[1].maeReturn, E.nabil2.r, 'MAE of 3 January');
    close(points[2].noChangeMaeClose, E.nabil3.bc, 'NO_CHANGE MAE of the close on 4 January');

    const nica = await bed.client.getErrorSeries({ modelName: model, symbol: 'nica' });
    assert.equal(nica.symbol, 'NICA');
    assert.deepEqual(
      nica.points.map((p) => [dayOf(p.targetDate), Number(p.count)]),
      [['2024-01-02', 1]],
    );
    close(nica.points[0].maeReturn, E.nica1.r, 'NICA alone');
  });

  it('rolls over the latest scored days, keeps the latest points and honours the range', async () => {
    const rolled = await bed.client.getErrorSeries({ modelName: model, rollingDays: 2 });
    assert.deepEqual(
      rolled.points.map((p) => Number(p.count)),
      [2, 3, 2],
    );
    close(rolled.points[1].maeReturn, (E.nabil1.r + E.nica1.r + E.nabil2.r) / 3, 'MAE over 2 and 3 January');
    close(rolled.points[2].noChangeMaeReturn, (E.nabil2.br + E.nabil3.br) / 2, 'NO_CHANGE MAE over 3 and 4 January');
    // The one point kept still averages over the day before it.
    const last = await bed.client.getErrorSeries({ modelName: model, rollingDays: 2, maxPoints: 1 });
    assert.deepEqual(
      last.points.map((p) => [dayOf(p.targetDate), Number(p.count)]),
      [['2024-01-04', 2]],
    );
    const ranged = await bed.client.getErrorSeries({ modelName: model, range: { start: toProtoDate('2024-01-03') } });
    assert.deepEqual(
      ranged.points.map((p) => dayOf(p.targetDate)),
      ['2024-01-03', '2024-01-04'],
    );
  });

  it('answers INVALID_ARGUMENT naming the field, and NOT_FOUND for a model never seen', async () => {
    const refusal = async (call: Promise<unknown>) => {
      const { code, field } = await failure(call);
      return { code, field };
    };
    const invalid = grpc.status.INVALID_ARGUMENT;
    const listing = (request: Record<string, unknown>) => refusal(bed.client.listScoredPredictions(request));
    assert.deepEqual(await listing({}), { code: invalid, field: 'symbol' });
    assert.deepEqual(await listing({ symbol: 'no such symbol' }), { code: invalid, field: 'symbol' });
    assert.deepEqual(await listing({ symbol: 'NABIL', modelName: 'Not A Name' }), { code: invalid, field: 'model_name' });
    assert.deepEqual(await listing({ symbol: 'NABIL', modelVersion: 1 }), { code: invalid, field: 'model_name' });
    assert.deepEqual(await listing({ symbol: 'NABIL', modelName: model, modelVersion: -1 }), { code: invalid, field: 'model_version' });
    assert.deepEqual(await listing({ symbol: 'NABIL', pageSize: -1 }), { code: invalid, field: 'page_size' });
    assert.deepEqual(await listing({ symbol: 'NABIL', pageToken: 'not-a-token' }), { code: invalid, field: 'page_token' });
    assert.deepEqual(await listing({ symbol: 'NABIL', range: { start: { year: 2024, month: 2, day: 30 } } }), {
      code: invalid,
      field: 'range.start',
    });
    assert.deepEqual(await listing({ symbol: 'NABIL', range: { start: toProtoDate('2024-01-03'), end: toProtoDate('2024-01-01') } }), {
      code: invalid,
      field: 'range.end',
    });
    assert.equal(
      (await bed.client.listScoredPredictions({ symbol: 'NABIL', pageSize: 5000 })).predictions.length,
      4,
      'a page size above the cap is capped',
    );

    const series = (request: Record<string, unknown>) => refusal(bed.client.getErrorSeries(request));
    assert.deepEqual(await series({}), { code: invalid, field: 'model_name' });
    assert.deepEqual(await series({ modelName: model, modelVersion: -2 }), { code: invalid, field: 'model_version' });
    assert.deepEqual(await series({ modelName: model, symbol: 'bad symbol' }), { code: invalid, field: 'symbol' });
    assert.deepEqual(await series({ modelName: model, rollingDays: 251 }), { code: invalid, field: 'rolling_days' });
    assert.deepEqual(await series({ modelName: model, rollingDays: -1 }), { code: invalid, field: 'rolling_days' });
    assert.deepEqual(await series({ modelName: model, maxPoints: 3651 }), { code: invalid, field: 'max_points' });
    assert.deepEqual(await series({ modelName: model, range: { end: { year: 2024, month: 13, day: 1 } } }), {
      code: invalid,
      field: 'range.end',
    });
    assert.deepEqual(await series({ modelName: 'ghost' }), { code: grpc.status.NOT_FOUND, field: 'model' });
    assert.deepEqual(await series({ modelName: model, modelVersion: 9 }), { code: grpc.status.NOT_FOUND, field: 'model' });
  });
});
