import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Algorithm, TrainingSpecSchema } from '../../gen/nepse/training/v1/training_pb.js';
import { ConfigError } from '../../lib/config/index.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { promotionVerdict } from './promotion.js';
import { JobTrigger } from '../../gen/nepse/training/v1/training_pb.js';
import { createLogger } from '../../lib/telemetry/index.js';
import type { JobQueue } from './job-queue.js';
import { parseSchedule, startSchedule } from './schedule.js';
import { resolveSpec } from './spec.js';

const fields = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidArgumentError, String(error));
    return error.violations.map((v) => v.field);
  }
  return [];
};

describe('training specs', () => {
  it('applies defaults', () => {
    const spec = resolveSpec(create(TrainingSpecSchema, { modelName: 'nepse-ridge', algorithm: Algorithm.RIDGE }));
    assert.equal(spec.folds, 5);
    assert.equal(spec.ridge.lambda, 1);
    assert.equal(spec.algorithm, 'ridge');
    assert.deepEqual(spec.symbols, []);
  });

  it('names every offending field', () => {
    const spec = create(TrainingSpecSchema, {
      modelName: 'Bad Name',
      algorithm: Algorithm.RIDGE,
      foldCount: 1,
      promotionMargin: 1.5,
      symbols: ['NABIL', 'no good'],
      hyperparameters: { case: 'gradientBoostedTrees', value: { numTrees: 0 } },
      dateRange: { start: { year: 2024, month: 2, day: 1 }, end: { year: 2024, month: 1, day: 1 } },
    });
    assert.deepEqual(fields(() => resolveSpec(spec)).sort(), [
      'spec.date_range.end',
      'spec.fold_count',
      'spec.gradient_boosted_trees',
      'spec.gradient_boosted_trees.num_trees',
      'spec.model_name',
      'spec.promotion_margin',
      'spec.symbols[1]',
    ]);
    assert.deepEqual(
      fields(() => resolveSpec(undefined)),
      ['spec'],
    );
    assert.deepEqual(
      fields(() => resolveSpec(create(TrainingSpecSchema, { modelName: 'ok' }))),
      ['spec.algorithm'],
    );
  });
});

describe('auto-promotion rule', () => {
  it('promotes only a model that beats "no change" by the margin', () => {
    assert.equal(promotionVerdict(0.0095, 0.01, 0.02).qualifies, true);
    assert.equal(promotionVerdict(0.0099, 0.01, 0.02).qualifies, false);
    assert.equal(promotionVerdict(0.0101, 0.01, 0).qualifies, false);
    assert.equal(promotionVerdict(Number.NaN, 0.01, 0).qualifies, false);
    assert.match(promotionVerdict(0.0099, 0.01, 0.02).reason, /does not beat the no-change baseline/);
    assert.match(promotionVerdict(0.0095, 0.01, 0.02).reason, /: 5\.0 % better, margin 2\.0 %$/);
    assert.match(promotionVerdict(0.0101, 0.01, 0).reason, /: 1\.0 % worse, margin 0\.0 %\)$/);
  });
});

describe('schedule', () => {
  it('reads a cron expression in UTC and the spec of scheduled runs', () => {
    const schedule = parseSchedule('30 9 * * 0-4', '{"modelName":"nepse-ridge","algorithm":"ALGORITHM_RIDGE"}');
    assert.equal(schedule.next(new Date('2026-11-26T10:00:00Z')).toISOString(), '2026-11-29T09:30:00.000Z');
    assert.equal(schedule.resolved.modelName, 'nepse-ridge');
  });

  it('refuses a bad expression or spec naming the variable', () => {
    assert.throws(
      () => parseSchedule('every day', '{}'),
      (e: unknown) => e instanceof ConfigError && /TRAINING_SCHEDULE:/.test(e.message),
    );
    assert.throws(
      () => parseSchedule('0 9 * * *', '{"modelName":"X"}'),
      (e: unknown) => e instanceof ConfigError && /TRAINING_SCHEDULE_SPEC/.test(e.message),
    );
  });

  it('submits the scheduled spec at each cron time, marked as scheduled', async () => {
    const submitted: { trigger: JobTrigger; by: string; model: string }[] = [];
    // A stand-in queue records submissions: this tests the timer logic above the real queue.
    const queue = {
      submit: (spec: { modelName: string }, _resolved: unknown, trigger: JobTrigger, by: string) =>
        submitted.push({ trigger, by, model: spec.modelName }),
    } as unknown as JobQueue;
    const schedule = parseSchedule('* * * * * *', '{"modelName":"every-second","algorithm":"ALGORITHM_RIDGE"}');
    const running = startSchedule(schedule, queue, createLogger('test', 'silent'));
    try {
      const deadline = Date.now() + 5_000;
      while (submitted.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      running.stop();
    }
    assert.ok(submitted.length >= 2, `two runs within 5 s, got ${submitted.length}`);
    assert.deepEqual(submitted[0], { trigger: JobTrigger.SCHEDULE, by: 'scheduler', model: 'every-second' });
  });
});
