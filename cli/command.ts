/**
 * What a `nepse` command is: its usage line, the options it accepts, how many arguments it takes,
 * and what it runs. Also the checks of option values, which fail as usage errors (exit 2) before
 * any service is called.
 */
import { userInfo } from 'node:os';
import { toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { ParseArgsOptionsConfig } from 'node:util';
import type { Date as TradingDate } from '../gen/nepse/market/v1/market_pb.js';
import { isoDate, toProtoDate } from '../lib/market/index.js';
import type { Clients } from './clients.js';

/** Option values as node:util parseArgs returns them. */
export type OptionValues = Record<string, string | boolean | undefined>;

/** What a command runs with. */
export interface CommandInput {
  /** Positional arguments after the command name. */
  args: string[];
  options: OptionValues;
  /** Clients of the mesh, each created on first use. */
  clients: Clients;
  /**
   * A signal aborted by Ctrl-C. Only commands that follow a stream ask for it: asking installs the
   * SIGINT handler, and every other command keeps Node's default of stopping at once.
   */
  interrupted(): AbortSignal;
}

/** One command of the CLI. */
export interface Command {
  /** Its line of the usage, without the leading `nepse `. */
  usage: string;
  /** What it does, in a sentence or two, for `nepse <command> --help`. */
  summary: string;
  /** Per option (name without `--`): what it does, ending with an example such as `e.g. --limit 10`. */
  optionHelp?: Record<string, string>;
  /** Options it accepts, in node:util parseArgs form; anything else is a usage error. */
  options?: ParseArgsOptionsConfig;
  /** Fewest and most positional arguments. */
  args: { min: number; max: number };
  /** Runs it; resolves to the exit code when that is not 0 (e.g. some symbols of a batch failed). */
  run(input: CommandInput): Promise<number | void>;
}

/** The `--json` option of listing commands, with its help line. */
export const JSON_OPTION = { json: { type: 'boolean' } } as const;
/** Help line of {@link JSON_OPTION} for a listing answered in one document. */
export const JSON_HELP = 'print the listing as one JSON document (the messages in proto3 JSON), e.g. --json | jq length';
/** Help line of {@link JSON_OPTION} for a followed stream. */
export const JSON_LINES_HELP = 'print one JSON object a line (proto3 JSON) as messages arrive, e.g. --json | jq -c .';

/** Prints messages as one JSON array (proto3 JSON mapping), for `--json`. */
export function printJson<Desc extends DescMessage>(schema: Desc, messages: readonly MessageShape<Desc>[]): void {
  console.log(
    JSON.stringify(
      messages.map((m) => toJson(schema, m)),
      null,
      2,
    ),
  );
}

/** Prints one message as a line of JSON, for `--json` on followed streams. */
export function printJsonLine<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  console.log(JSON.stringify(toJson(schema, message)));
}

/** `nepse <command> --help`: usage, summary, and each option with what it does and an example. */
export function helpText(name: string, command: Command): string {
  const lines = [`usage: nepse ${command.usage}`, '', command.summary];
  const options = Object.entries(command.options ?? {});
  if (options.length > 0) {
    const labels = options.map(
      ([option, config]) => `--${option}${config.type === 'string' ? ` ${optionValueName(command.usage, option)}` : ''}`,
    );
    const width = Math.max(...labels.map((l) => l.length)) + 2;
    lines.push('', 'options:');
    options.forEach(([option], i) => lines.push(`  ${labels[i].padEnd(width)}${command.optionHelp?.[option] ?? ''}`));
  }
  lines.push('', `nepse help lists every command; nepse ${name} --help shows this.`);
  return lines.join('\n');
}

/** The placeholder the usage line gives an option's value (`--limit N` → `N`), or `VALUE`. */
function optionValueName(usage: string, option: string): string {
  return new RegExp(`--${option} ([^\\]\\s]+)`).exec(usage)?.[1] ?? 'VALUE';
}

/** Who is asking, recorded by training and the registry beside what changed. */
export function operator(): string {
  try {
    return userInfo().username || 'operator';
  } catch {
    // No passwd entry (a container's arbitrary uid): the history still needs a name.
    return 'operator';
  }
}

/** A command line that does not make sense: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A string option's value, or undefined when it was not given. */
export function stringOption(options: OptionValues, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}

/** An integer option (or argument) within [min, max]; `fallback` when not given. */
export function integerOption(value: string | undefined, name: string, bounds: { min: number; max: number }, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || n < bounds.min || n > bounds.max) {
    throw new UsageError(`${name} must be a whole number from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A model version as people write it, `3` or `v3`. */
export function versionArgument(value: string | undefined, name: string, fallback = 0): number {
  return integerOption(value?.replace(/^v/i, ''), name, { min: 1, max: 2 ** 31 - 1 }, fallback);
}

/** A decimal option within [min, max); `fallback` when not given. */
export function fractionOption(value: string | undefined, name: string, bounds: { min: number; below: number }, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < bounds.min || n >= bounds.below) {
    throw new UsageError(`${name} must be a number from ${bounds.min} up to (not including) ${bounds.below}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A YYYY-MM-DD option as a proto Date; undefined when not given. */
export function dayOption(value: string | undefined, name: string): TradingDate | undefined {
  if (value === undefined) return undefined;
  const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!parts || !isoDate(+parts[1], +parts[2], +parts[3]))
    throw new UsageError(`${name} must be a day as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return toProtoDate(value);
}

/** One of a fixed set of words, mapped to its value; `fallback` when not given. */
export function choiceOption<T>(value: string | undefined, name: string, choices: Record<string, T>, fallback: T): T {
  if (value === undefined) return fallback;
  const key = value.toLowerCase();
  if (!Object.hasOwn(choices, key))
    throw new UsageError(`${name} must be one of ${Object.keys(choices).join(', ')}, got ${JSON.stringify(value)}`);
  return choices[key];
}

/**
 * Reads a server stream until it ends or `signal` aborts (Ctrl-C), which is the normal way to stop
 * following one: the cancelled call's error is swallowed then, any other error is thrown.
 */
export async function follow<T>(stream: AsyncIterable<T>, signal: AbortSignal, each: (message: T) => void): Promise<void> {
  try {
    for await (const message of stream) each(message);
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
