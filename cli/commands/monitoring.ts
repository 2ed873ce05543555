/** Monitoring commands: a model's live figures beside the baseline, and the alerts. */
import { toJson } from '@bufbuild/protobuf';
import {
  AlertSchema,
  AlertSeverity,
  AlertState,
  GetModelPerformanceResponseSchema,
  type Alert,
} from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { dayOf, DRIFT_DEFAULTS } from '../../lib/market/index.js';
import { collectPages } from '../clients.js';
import {
  follow,
  integerOption,
  JSON_HELP,
  JSON_OPTION,
  printJson,
  printJsonLine,
  stringOption,
  versionArgument,
  type Command,
} from '../command.js';
import { enumWord, evaluationTable, fixedRow, maeVersusNoChange, table, when } from '../format.js';

/** Features listed by `performance`; the rest are summed up in one line. */
const DRIFT_SHOWN = 10;

/** `nepse performance <MODEL>`: GetModelPerformance, live beside NO_CHANGE, backtest and drift when present. */
export const performanceCommand: Command = {
  usage: 'performance <MODEL> [--version N] [--symbol SYMBOL] [--window DAYS] [--json]',
  summary:
    'Shows a model\'s live accuracy (its served predictions scored against the next bar) beside "no change" and, for one version, beside its shadow challenger, its backtest, and feature drift.',
  options: { version: { type: 'string' }, symbol: { type: 'string' }, window: { type: 'string' }, ...JSON_OPTION },
  optionHelp: {
    version: 'one version only (default every version), e.g. --version 2',
    symbol: 'one symbol only (default every symbol), e.g. --symbol NABIL',
    window: "days of scored predictions, 1 to 3650 (default the service's window), e.g. --window 30",
    json: 'print the report as one JSON document (proto3 JSON), e.g. --json | jq .report.live',
  },
  args: { min: 1, max: 1 },
  async run({ args: [modelName], options, clients }) {
    const response = await clients.monitoring.getModelPerformance({
      modelName,
      modelVersion: versionArgument(stringOption(options, 'version'), '--version'),
      symbol: stringOption(options, 'symbol') ?? '',
      windowDays: integerOption(stringOption(options, 'window'), '--window', { min: 1, max: 3650 }, 0),
    });
    if (options.json) return console.log(JSON.stringify(toJson(GetModelPerformanceResponseSchema, response), null, 2));
    const r = response.report!;
    const scope = `${r.modelName} ${r.modelVersion ? `v${r.modelVersion}` : '(every version)'}, ${r.symbol || 'every symbol'}`;
    const window = r.window?.end ? `${dayOf(r.window.start)} .. ${dayOf(r.window.end)}` : 'nothing scored yet';
    const pending = r.pendingPredictions;
    console.log(
      `${scope}, ${r.windowDays}-day window: ${window}; ${pending} prediction${pending === 1n ? '' : 's'} waiting for the next bar`,
    );
    if (r.live?.model?.count) {
      console.log(`live       MAE ${maeVersusNoChange(r.live)}`);
      console.log(evaluationTable(r.live));
    } else {
      console.log('live       nothing scored yet: a prediction is scored once the bar of its next session arrives');
    }
    if (r.shadow) {
      // Champion beside challenger on the same bars: the pairs both predicted and were scored on.
      const sh = r.shadow;
      const n = Number(sh.champion?.count ?? 0n);
      console.log(
        `shadow     v${sh.challengerVersion} (challenger) beside v${r.modelVersion} on the same ${n} scored pair${n === 1 ? '' : 's'} over ${sh.sessions} session${sh.sessions === 1 ? '' : 's'}; the challenger did better in ${sh.challengerBetterSessions}`,
      );
      if (n > 0) {
        const row = (who: string, m: typeof sh.champion) => [
          `  ${who}`,
          m!.maeReturn.toFixed(5),
          m!.rmseReturn.toFixed(5),
          m!.maeClose.toFixed(2),
          `${(100 * m!.directionalAccuracy).toFixed(1)} %`,
        ];
        console.log(
          table(
            ['  MODEL', 'MAE(RETURN)', 'RMSE(RETURN)', 'MAE(CLOSE)', 'DIRECTION'],
            [row(`v${r.modelVersion} champion`, sh.champion), row(`v${sh.challengerVersion} challenger`, sh.challenger)],
          ),
        );
      }
    }
    if (r.backtest) {
      console.log(`backtest   walk-forward, every fold's test window: MAE ${maeVersusNoChange(r.backtest)}`);
      console.log(evaluationTable(r.backtest));
    }
    if (r.featureDrift.length) {
      const drift = [...r.featureDrift].sort((a, b) => b.psi - a.psi);
      const vectors = Math.max(...drift.map((d) => Number(d.sampleCount)));
      // The drift rule waits for as many vectors: with fewer, sampling noise alone nears its bound.
      const few = vectors < DRIFT_DEFAULTS.minSamples ? `; only ${vectors} live vectors, too few to read much into` : '';
      console.log(
        `drift      PSI of the live feature vectors against training (above ${DRIFT_DEFAULTS.maxPsi} reads as a significant shift${few})`,
      );
      console.log(
        table(
          ['  FEATURE', 'PSI', 'VECTORS'],
          drift.slice(0, DRIFT_SHOWN).map((d) => [`  ${d.feature}`, d.psi.toFixed(3), String(d.sampleCount)]),
        ),
      );
      if (drift.length > DRIFT_SHOWN)
        console.log(`  ${drift.length - DRIFT_SHOWN} more, each at most ${drift[DRIFT_SHOWN].psi.toFixed(3)}`);
    }
  },
};

const ALERT_HEADER = ['STARTED', 'STATE', 'SEVERITY', 'RULE', 'SUMMARY'];
const alertCells = (a: Alert) => [when(a.startedAt), enumWord(AlertState, a.state), enumWord(AlertSeverity, a.severity), a.rule, a.summary];

/** `nepse alerts`: ListAlerts newest first, or with --watch WatchAlerts until Ctrl-C. */
export const alertsCommand: Command = {
  usage: 'alerts [--firing] [--watch] [--limit N] [--json]',
  summary: 'Lists alerts newest first, or with --watch follows them as they fire and resolve until Ctrl-C.',
  options: { firing: { type: 'boolean' }, watch: { type: 'boolean' }, limit: { type: 'string' }, ...JSON_OPTION },
  optionHelp: {
    firing: 'only alerts firing now (with --watch: the firing ones first, then changes), e.g. --firing',
    watch: 'follow alerts as they change until Ctrl-C, e.g. --watch --firing',
    limit: 'at most this many alerts, 1 to 100000 (default 50), e.g. --limit 10',
    json: `${JSON_HELP}; with --watch one JSON object a line`,
  },
  args: { min: 0, max: 0 },
  async run({ options, clients, interrupted }) {
    if (options.watch) {
      const signal = interrupted();
      const row = (cells: string[]) => fixedRow([20, 8, 8, 20], cells);
      console.error(`watching alerts${options.firing ? ', the firing ones first' : ''}; Ctrl-C to stop`);
      if (!options.json) console.log(row(ALERT_HEADER));
      await follow(clients.monitoring.watchAlerts({ includeFiring: Boolean(options.firing) }, { signal }), signal, (message) => {
        if (message.kind.case !== 'alert') return;
        if (options.json) printJsonLine(AlertSchema, message.kind.value);
        else console.log(row(alertCells(message.kind.value)));
      });
      return;
    }
    const limit = integerOption(stringOption(options, 'limit'), '--limit', { min: 1, max: 100_000 }, 50);
    const state = options.firing ? AlertState.FIRING : AlertState.UNSPECIFIED;
    const alerts = await collectPages(
      (pageSize, pageToken) => clients.monitoring.listAlerts({ pageSize, pageToken, state }),
      (page) => page.alerts,
      limit,
    );
    if (options.json) return printJson(AlertSchema, alerts);
    if (!alerts.length) console.log(options.firing ? 'no alerts firing' : 'no alerts');
    else console.log(table(ALERT_HEADER, alerts.map(alertCells)));
  },
};
