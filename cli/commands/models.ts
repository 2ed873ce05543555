/** Model registry commands: list versions, move one to another stage, read the history. */
import {
  ChangeKind,
  HistoryEntrySchema,
  ModelStatus,
  ModelVersionSchema,
  Stage,
  type HistoryEntry,
  type ModelVersion,
} from '../../gen/nepse/registry/v1/registry_pb.js';
import { collectPages } from '../clients.js';
import { choiceOption, JSON_HELP, JSON_OPTION, operator, printJson, stringOption, versionArgument, type Command } from '../command.js';
import { enumWord, noChange, table, versusNoChange, when } from '../format.js';

const STAGES: Record<string, Stage> = { production: Stage.PRODUCTION, staging: Stage.STAGING, archived: Stage.ARCHIVED };

/**
 * A version's backtest MAE of the return beside NO_CHANGE's over every fold, and the comparison on
 * the holdout (the last fold) too: that is what automatic promotion decides on, and it can differ.
 */
function backtestColumns(version: ModelVersion): string[] {
  const overall = version.backtest?.overall;
  const holdout = version.backtest?.folds.at(-1)?.evaluation;
  const mae = (m: number | undefined) => (m === undefined ? '-' : m.toFixed(5));
  return [
    mae(overall?.model?.maeReturn),
    mae(noChange(overall)?.maeReturn),
    versusNoChange(overall) || '-',
    versusNoChange(holdout) || '-',
  ];
}

/** `nepse models [NAME]`: every version (of one name), newest first per name. */
export const modelsCommand: Command = {
  usage: 'models [NAME] [--json]',
  summary: 'Lists registered model versions (of one name), newest first, with stage, status, backtest MAE beside "no change" and aliases.',
  options: JSON_OPTION,
  optionHelp: { json: JSON_HELP },
  args: { min: 0, max: 1 },
  async run({ args: [name], options, clients }) {
    const versions = await collectPages(
      (pageSize, pageToken) => clients.registry.listModels({ pageSize, pageToken, name: name ?? '' }),
      (page) => page.modelVersions,
    );
    if (options.json) return printJson(ModelVersionSchema, versions);
    if (!versions.length) {
      console.log(name ? `no versions of ${name}` : 'no models registered');
      return;
    }
    console.log(
      table(
        [
          'MODEL',
          'VERSION',
          'STAGE',
          'STATUS',
          'BACKTEST MAE',
          'NO-CHANGE MAE',
          'VS NO-CHANGE',
          'HOLDOUT VS NO-CHANGE',
          'REGISTERED',
          'ALIASES',
        ],
        versions.map((v) => [
          v.name,
          `v${v.version}`,
          enumWord(Stage, v.stage),
          enumWord(ModelStatus, v.status),
          ...backtestColumns(v),
          when(v.createdAt),
          v.aliases.join(' '),
        ]),
      ),
    );
  },
};

/** `nepse promote <NAME> <VERSION>`: TransitionStage, to Production unless --stage says otherwise. */
export const promoteCommand: Command = {
  usage: 'promote <NAME> <VERSION> [--stage production|staging|archived] [--reason TEXT]',
  summary: 'Moves a model version to a stage (Production unless --stage says otherwise); the prediction service follows a promotion live.',
  optionHelp: {
    stage: 'the stage to move to: production (default), staging or archived, e.g. --stage staging',
    reason: 'why, kept in the history beside who did it, e.g. --reason "better holdout MAE"',
  },
  options: { stage: { type: 'string' }, reason: { type: 'string' } },
  args: { min: 2, max: 2 },
  async run({ args: [name, rawVersion], options, clients }) {
    const version = versionArgument(rawVersion, 'VERSION');
    const targetStage = choiceOption(stringOption(options, 'stage'), '--stage', STAGES, Stage.PRODUCTION);
    const r = await clients.registry.transitionStage({
      name,
      version,
      targetStage,
      reason: stringOption(options, 'reason') ?? '',
      actor: operator(),
    });
    const replaced =
      r.previousProductionVersion && r.previousProductionVersion !== version
        ? `; v${r.previousProductionVersion} left Production for the archive`
        : '';
    console.log(`${name} v${version} is ${enumWord(Stage, r.modelVersion?.stage ?? targetStage)}${replaced}`);
    if (r.promotionId) {
      // The registry answers once the change is recorded; activation happens after, on every prediction instance.
      console.log(
        `promotion ${r.promotionId}: prediction instances activate it now; a failed activation rolls it back (see nepse history ${name})`,
      );
    }
  },
};

/** What a history entry changed, in words. */
function changeOf(e: HistoryEntry): string {
  switch (e.kind) {
    case ChangeKind.REGISTERED:
      return `registered (${enumWord(Stage, e.toStage)})`;
    case ChangeKind.STAGE_CHANGED: {
      // The other version is the one it replaced in Production, or the one that replaced it there.
      const other = !e.relatedVersion
        ? ''
        : e.toStage === Stage.PRODUCTION
          ? `, replacing v${e.relatedVersion}`
          : `, replaced by v${e.relatedVersion}`;
      return `${enumWord(Stage, e.fromStage)} → ${enumWord(Stage, e.toStage)}${other}`;
    }
    case ChangeKind.ALIAS_SET:
      return `alias ${e.alias} set${e.relatedVersion ? ` (was v${e.relatedVersion})` : ''}`;
    case ChangeKind.ALIAS_REMOVED:
      return `alias ${e.alias} removed`;
    case ChangeKind.ACTIVATION_FAILED:
      return 'activation failed';
    case ChangeKind.ROLLED_BACK:
      return `rolled back ${enumWord(Stage, e.fromStage)} → ${enumWord(Stage, e.toStage)}${e.relatedVersion ? `, v${e.relatedVersion} restored` : ''}`;
    default:
      return enumWord(ChangeKind, e.kind);
  }
}

/** `nepse history <NAME>`: every stage and alias change of a model, oldest first. */
export const historyCommand: Command = {
  usage: 'history <NAME> [--version N] [--json]',
  summary: "Lists a model's stage and alias changes, oldest first, with who made them and why.",
  options: { version: { type: 'string' }, ...JSON_OPTION },
  optionHelp: { version: 'only this version, e.g. --version 3', json: JSON_HELP },
  args: { min: 1, max: 1 },
  async run({ args: [name], options, clients }) {
    const version = versionArgument(stringOption(options, 'version'), '--version');
    const entries = await collectPages(
      (pageSize, pageToken) => clients.registry.getModelHistory({ name, version, pageSize, pageToken }),
      (page) => page.entries,
    );
    if (options.json) return printJson(HistoryEntrySchema, entries);
    if (!entries.length) {
      console.log(`no history of ${name}${version ? ` v${version}` : ''}`);
      return;
    }
    console.log(
      table(
        ['WHEN', 'VERSION', 'CHANGE', 'BY', 'REASON'],
        entries.map((e) => [when(e.changedAt), `v${e.version}`, changeOf(e), e.actor, e.reason]),
      ),
    );
  },
};
