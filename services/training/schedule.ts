import { CronExpressionParser } from 'cron-parser';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { JobTrigger, TrainingSpecSchema, type TrainingSpec } from '../../gen/nepse/training/v1/training_pb.js';
import { ConfigError } from '../../lib/config/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { JobQueue } from './job-queue.js';
import { resolveSpec, type ResolvedSpec } from './spec.js';

/** Longest single timer Node allows; longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A parsed schedule: when to run, and what. */
export interface TrainingSchedule {
  expression: string;
  spec: TrainingSpec;
  resolved: ResolvedSpec;
  /** The next run after `from`. */
  next(from?: Date): Date;
}

/** Parses the configured cron expression (UTC) and spec; ConfigError naming the variable when either is wrong. */
export function parseSchedule(expression: string, specJson: string): TrainingSchedule {
  let cron: ReturnType<typeof CronExpressionParser.parse>;
  try {
    cron = CronExpressionParser.parse(expression, { tz: 'UTC' });
  } catch (error) {
    throw new ConfigError([`TRAINING_SCHEDULE: ${(error as Error).message}`]);
  }
  let spec: TrainingSpec;
  let resolved: ResolvedSpec;
  try {
    spec = fromJson(TrainingSpecSchema, JSON.parse(specJson) as JsonValue);
    resolved = resolveSpec(spec);
  } catch (error) {
    throw new ConfigError([`TRAINING_SCHEDULE_SPEC: ${(error as Error).message}`]);
  }
  return {
    expression,
    spec,
    resolved,
    next: (from = new Date()) => CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: from }).next().toDate(),
  };
}

/** Submits the scheduled job at every cron time until stop(). */
export function startSchedule(schedule: TrainingSchedule, queue: JobQueue, logger: Logger): { stop(): void; nextRun(): Date } {
  let timer: NodeJS.Timeout | undefined;
  let due = schedule.next();
  const arm = () => {
    const wait = Math.min(Math.max(0, due.getTime() - Date.now()), MAX_TIMER_MS);
    timer = setTimeout(() => {
      if (Date.now() >= due.getTime()) {
        const job = queue.submit(schedule.spec, schedule.resolved, JobTrigger.SCHEDULE, 'scheduler');
        logger.info({ jobId: job.jobId, schedule: schedule.expression }, 'scheduled training started');
        due = schedule.next(new Date(Date.now() + 1000));
      }
      arm();
    }, wait);
    timer.unref();
  };
  arm();
  logger.info({ schedule: schedule.expression, next: due.toISOString() }, 'training schedule armed');
  return { stop: () => clearTimeout(timer), nextRun: () => due };
}
