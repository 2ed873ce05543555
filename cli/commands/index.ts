/** Every `nepse` command by name, in the order `nepse help` lists them. */
import type { Command } from '../command.js';
import { barsCommand, importCommand, symbolsCommand } from './market.js';
import { historyCommand, modelsCommand, promoteCommand } from './models.js';
import { alertsCommand, performanceCommand } from './monitoring.js';
import { predictCommand, watchCommand } from './predictions.js';
import { jobCommand, jobsCommand, trainCommand } from './training.js';

/** The commands, keyed by the name typed after `nepse`. */
export const COMMANDS: Record<string, Command> = {
  import: importCommand,
  symbols: symbolsCommand,
  bars: barsCommand,
  train: trainCommand,
  jobs: jobsCommand,
  job: jobCommand,
  models: modelsCommand,
  promote: promoteCommand,
  history: historyCommand,
  predict: predictCommand,
  watch: watchCommand,
  performance: performanceCommand,
  alerts: alertsCommand,
};
