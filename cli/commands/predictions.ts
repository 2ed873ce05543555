/** Prediction commands: ask for next-day predictions, or follow them as new features arrive. */
import { DegradedReason, PredictionSchema, type Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { detailsOf } from '../../lib/grpc/index.js';
import { dayOf } from '../../lib/market/index.js';
import {
  dayOption,
  follow,
  JSON_LINES_HELP,
  JSON_OPTION,
  printJson,
  printJsonLine,
  stringOption,
  versionArgument,
  type Command,
} from '../command.js';
import { enumWord, failureLines, fixedRow, pct, table, when } from '../format.js';

const HEADER = ['SYMBOL', 'FEATURE DATE', 'CLOSE', 'PREDICTED', 'CHANGE', 'LOG RETURN', 'MODEL', 'DEGRADED'];

/** A prediction as the cells of a {@link HEADER} row. */
function cells(p: Prediction): string[] {
  const degraded = p.degraded
    ? `yes: ${enumWord(DegradedReason, p.degradedReason)}${p.degradedDetail ? ` (${p.degradedDetail})` : ''}`
    : 'no';
  return [
    p.symbol,
    dayOf(p.featureDate),
    p.baseClose.toFixed(2),
    p.predictedClose.toFixed(2),
    pct(Math.expm1(p.predictedReturn)),
    `${p.predictedReturn >= 0 ? '+' : ''}${p.predictedReturn.toFixed(5)}`,
    `${p.modelName} v${p.modelVersion}`,
    degraded,
  ];
}

/** `nepse predict <SYMBOL...>`: Predict for one symbol, PredictBatch (one inference) for several. */
export const predictCommand: Command = {
  usage: 'predict <SYMBOL...> [--model NAME] [--version N] [--as-of YYYY-MM-DD] [--json]',
  summary: "Predicts each symbol's next-session close with the Production model (or the one named), one batch for several symbols.",
  options: { model: { type: 'string' }, version: { type: 'string' }, 'as-of': { type: 'string' }, ...JSON_OPTION },
  optionHelp: {
    model: 'a registered model name instead of the Production one, e.g. --model nepse-gbrt',
    version: 'a version of that model, e.g. --model nepse-ridge --version 2',
    'as-of': 'predict from the features of this day instead of the latest, e.g. --as-of 2024-06-02',
    json: 'print the predictions made as one JSON array (proto3 JSON); failures still go to stderr, e.g. --json | jq .[0].predictedClose',
  },
  args: { min: 1, max: 1000 },
  async run({ args: symbols, options, clients }) {
    const request = {
      asOf: dayOption(stringOption(options, 'as-of'), '--as-of'),
      modelName: stringOption(options, 'model') ?? '',
      modelVersion: versionArgument(stringOption(options, 'version'), '--version'),
    };
    if (symbols.length === 1) {
      const { prediction } = await clients.prediction.predict({ ...request, symbol: symbols[0] });
      if (options.json) return printJson(PredictionSchema, [prediction!]);
      console.log(table(HEADER, [cells(prediction!)]));
      return;
    }
    const { results } = await clients.prediction.predictBatch({ ...request, symbols });
    const predictions = results.flatMap((r) => (r.outcome.case === 'prediction' ? [r.outcome.value] : []));
    if (options.json) printJson(PredictionSchema, predictions);
    else if (predictions.length) console.log(table(HEADER, predictions.map(cells)));
    // A symbol that failed fails only its own entry: the others are printed, the exit code tells.
    let failed = 0;
    for (const r of results) {
      if (r.outcome.case !== 'error') continue;
      failed++;
      const [message, ...violations] = failureLines(detailsOf(r.outcome.value));
      console.error([`nepse: ${r.symbol}: ${message}`, ...violations].join('\n'));
    }
    return failed ? 1 : 0;
  },
};

/** `nepse watch <SYMBOL...>`: WatchPredictions until Ctrl-C, the current prediction of each first. */
export const watchCommand: Command = {
  usage: 'watch <SYMBOL...> [--model NAME] [--json]',
  summary: 'Follows predictions as new features arrive until Ctrl-C, the current prediction of each symbol first.',
  options: { model: { type: 'string' }, ...JSON_OPTION },
  optionHelp: { model: "a registered model's predictions instead of the Production one's, e.g. --model nepse-gbrt", json: JSON_LINES_HELP },
  args: { min: 1, max: 1000 },
  async run({ args: symbols, options, clients, interrupted }) {
    const signal = interrupted();
    const row = (cells: string[]) => fixedRow([9, 10, 12, 10, 10, 9, 10, 24], cells);
    console.error(`watching ${symbols.join(' ')}; Ctrl-C to stop`);
    if (!options.json) console.log(row(['AT', ...HEADER]));
    const stream = clients.prediction.watchPredictions(
      { symbols, modelName: stringOption(options, 'model') ?? '', includeCurrent: true },
      { signal },
    );
    await follow(stream, signal, (message) => {
      if (message.kind.case !== 'prediction') return;
      if (options.json) printJsonLine(PredictionSchema, message.kind.value);
      else console.log(row([when(message.kind.value.predictedAt).slice(11), ...cells(message.kind.value)]));
    });
  },
};
