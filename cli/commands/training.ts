/** Training commands: start a job (and follow it), list jobs, show one. */
import {
  Algorithm,
  JobPhase,
  JobSchema,
  JobState,
  JobTrigger,
  PromotionOutcome,
  type Job,
} from '../../gen/nepse/training/v1/training_pb.js';
import { dayOf } from '../../lib/market/index.js';
import { collectPages } from '../clients.js';
import {
  choiceOption,
  dayOption,
  follow,
  fractionOption,
  integerOption,
  JSON_HELP,
  JSON_OPTION,
  operator,
  printJson,
  stringOption,
  type Command,
} from '../command.js';
import { enumWord, evaluationTable, maeVersusNoChange, table, when } from '../format.js';

const ALGORITHMS: Record<string, Algorithm> = { ridge: Algorithm.RIDGE, gbrt: Algorithm.GRADIENT_BOOSTED_TREES };
const ALGORITHM_WORDS: Record<number, string> = { [Algorithm.RIDGE]: 'ridge', [Algorithm.GRADIENT_BOOSTED_TREES]: 'gbrt' };

/** What a job is doing, in a few words: `queued`, `backtesting, 2 of 5 folds done`, `succeeded`. */
function progressOf(job: Job): string {
  if (job.state !== JobState.RUNNING) return enumWord(JobState, job.state);
  const phase = enumWord(JobPhase, job.phase);
  return job.phase === JobPhase.BACKTESTING ? `${phase}, ${job.foldsCompleted} of ${job.foldCount} folds done` : phase;
}

/** A job as labelled lines, with its holdout and overall backtest figures once it has them. */
function describeJob(job: Job): string[] {
  const spec = job.spec;
  const range = spec?.dateRange ? `${dayOf(spec.dateRange.start) || 'start'} .. ${dayOf(spec.dateRange.end) || 'end'}` : 'every day';
  const promote = spec?.autoPromote
    ? `auto-promote when ${(spec.promotionMargin * 100).toFixed(1)} % better than no change`
    : 'no auto-promotion';
  const lines = [
    `job        ${job.jobId}`,
    `model      ${spec?.modelName}${job.modelVersion ? ` v${job.modelVersion}` : ''} (${ALGORITHM_WORDS[spec?.algorithm ?? 0] ?? 'unknown'}), ${range}, ${spec?.symbols.length ? spec.symbols.join(' ') : 'every symbol'}; ${promote}`,
    `state      ${progressOf(job)}, folds ${job.foldsCompleted} of ${job.foldCount}, ${job.trainingRows} training rows`,
  ];
  if (job.promotion) lines.push(`promotion  ${enumWord(PromotionOutcome, job.promotion.outcome)}: ${job.promotion.reason}`);
  if (job.error) lines.push(`error      ${job.error}`);
  lines.push(
    `requested  by ${job.requestedBy || 'unknown'} (${enumWord(JobTrigger, job.trigger)}) at ${when(job.createdAt)}${job.startedAt ? `, started ${when(job.startedAt)}` : ''}${job.finishedAt ? `, finished ${when(job.finishedAt)}` : ''}`,
  );
  const holdout = job.backtest?.folds.at(-1);
  if (holdout && job.foldsCompleted === job.foldCount) {
    lines.push(
      `holdout    last fold, ${dayOf(holdout.testRange?.start)} .. ${dayOf(holdout.testRange?.end)}: MAE ${maeVersusNoChange(holdout.evaluation)}`,
      evaluationTable(holdout.evaluation),
    );
  }
  if (job.backtest?.overall) lines.push("overall    every fold's test window", evaluationTable(job.backtest.overall));
  return lines;
}

/** `nepse train`: StartTraining, and with --wait WatchJob until the job ends. */
export const trainCommand: Command = {
  usage:
    'train [--model ridge|gbrt] [--name NAME] [--folds N] [--margin FRACTION] [--no-promote] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--wait]',
  summary:
    'Starts a training job: walk-forward backtest, registration, and promotion to Production when it beats "no change" on the holdout by the margin.',
  optionHelp: {
    model: 'the algorithm, ridge regression (default) or gradient-boosted trees, e.g. --model gbrt',
    name: 'the registered model name (default nepse-<algorithm>), e.g. --name nepse-ridge-short',
    folds: 'walk-forward folds, 2 to 20 (default 5), e.g. --folds 8',
    margin: 'how much better than "no change" the holdout MAE must be to promote, a fraction (default 0.01), e.g. --margin 0.02',
    'no-promote': 'register the version but leave Production alone, e.g. --no-promote',
    from: 'first trading day of the training data, e.g. --from 2023-01-01',
    to: 'last trading day of the training data, e.g. --to 2025-12-31',
    wait: 'follow the job until it ends, printing its phases and figures, e.g. --wait',
  },
  options: {
    model: { type: 'string' },
    name: { type: 'string' },
    folds: { type: 'string' },
    margin: { type: 'string' },
    'no-promote': { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    wait: { type: 'boolean' },
  },
  args: { min: 0, max: 0 },
  async run({ options, clients, interrupted }) {
    const algorithm = choiceOption(stringOption(options, 'model'), '--model', ALGORITHMS, Algorithm.RIDGE);
    const start = dayOption(stringOption(options, 'from'), '--from');
    const end = dayOption(stringOption(options, 'to'), '--to');
    // The demo's spec: five folds, promoted only when 1 % better than "no change" on the holdout.
    const spec = {
      modelName: stringOption(options, 'name') ?? `nepse-${ALGORITHM_WORDS[algorithm]}`,
      algorithm,
      foldCount: integerOption(stringOption(options, 'folds'), '--folds', { min: 2, max: 20 }, 5),
      autoPromote: !options['no-promote'],
      promotionMargin: fractionOption(stringOption(options, 'margin'), '--margin', { min: 0, below: 1 }, 0.01),
      dateRange: start || end ? { start, end } : undefined,
    };
    const { job } = await clients.training.startTraining({ spec, requestedBy: operator() });
    console.log(
      `job ${job!.jobId} ${enumWord(JobState, job!.state)}: ${spec.modelName} (${ALGORITHM_WORDS[algorithm]}), ${spec.foldCount}-fold walk-forward`,
    );
    if (!options.wait) {
      console.log(`follow it with: nepse job ${job!.jobId}`);
      return;
    }

    const signal = interrupted();
    const began = performance.now();
    let latest = job!;
    let said = '';
    await follow(clients.training.watchJob({ jobId: latest.jobId }, { signal }), signal, (message) => {
      if (message.kind.case !== 'job') return;
      latest = message.kind.value;
      const now = progressOf(latest);
      if (now !== said) console.log(`[${((performance.now() - began) / 1000).toFixed(1).padStart(5)} s] ${(said = now)}`);
    });
    if (signal.aborted) {
      console.log(`stopped following; the job goes on: nepse job ${latest.jobId}`);
      return;
    }
    console.log(describeJob(latest).join('\n'));
    if (latest.state === JobState.FAILED) throw new Error(`training job ${latest.jobId} failed: ${latest.error}`);
  },
};

/** `nepse jobs`: the newest jobs first. */
export const jobsCommand: Command = {
  usage: 'jobs [--name NAME] [--limit N] [--json]',
  summary: 'Lists training jobs, newest first, with their state, version made and promotion outcome.',
  options: { name: { type: 'string' }, limit: { type: 'string' }, ...JSON_OPTION },
  optionHelp: {
    name: "only this model name's jobs, e.g. --name nepse-ridge",
    limit: 'at most this many jobs, 1 to 10000 (default 20), e.g. --limit 5',
    json: JSON_HELP,
  },
  args: { min: 0, max: 0 },
  async run({ options, clients }) {
    const limit = integerOption(stringOption(options, 'limit'), '--limit', { min: 1, max: 10_000 }, 20);
    const modelName = stringOption(options, 'name') ?? '';
    const jobs = await collectPages(
      (pageSize, pageToken) => clients.training.listJobs({ pageSize, pageToken, modelName }),
      (page) => page.jobs,
      limit,
    );
    if (options.json) return printJson(JobSchema, jobs);
    if (!jobs.length) {
      console.log('no training jobs');
      return;
    }
    const outcome = (j: Job) =>
      j.state === JobState.FAILED ? j.error.slice(0, 60) : j.promotion ? enumWord(PromotionOutcome, j.promotion.outcome) : progressOf(j);
    console.log(
      table(
        ['JOB', 'MODEL', 'ALGORITHM', 'STATE', 'VERSION', 'CREATED', 'OUTCOME'],
        jobs.map((j) => [
          j.jobId,
          j.spec?.modelName ?? '',
          ALGORITHM_WORDS[j.spec?.algorithm ?? 0] ?? '',
          enumWord(JobState, j.state),
          j.modelVersion ? `v${j.modelVersion}` : '-',
          when(j.createdAt),
          outcome(j),
        ]),
      ),
    );
  },
};

/** `nepse job <id>`: one job in full. */
export const jobCommand: Command = {
  usage: 'job <JOB_ID>',
  summary: 'Shows one training job in full: spec, state, folds, backtest figures and promotion.',
  args: { min: 1, max: 1 },
  async run({ args: [jobId], clients }) {
    const { job } = await clients.training.getJob({ jobId });
    console.log(describeJob(job!).join('\n'));
  },
};
