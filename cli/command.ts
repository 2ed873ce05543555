/**
 * What a `nepse` command is: its usage line, the options it accepts, how many arguments it takes,
 * and what it runs. Also the checks of option values, which fail as usage errors (exit 2) before
 * any service is called.
 */
import { userInfo } from 'node:os';
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
  /** Options it accepts, in node:util parseArgs form; anything else is a usage error. */
  options?: ParseArgsOptionsConfig;
  /** Fewest and most positional arguments. */
  args: { min: number; max: number };
  /** Runs it; resolves to the exit code when that is not 0 (e.g. some symbols of a batch failed). */
  run(input: CommandInput): Promise<number | void>;
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
  if (!parts || !isoDate(+parts[1], +parts[2], +parts[3])) throw new UsageError(`${name} must be a day as YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return toProtoDate(value);
}

/** One of a fixed set of words, mapped to its value; `fallback` when not given. */
export function choiceOption<T>(value: string | undefined, name: string, choices: Record<string, T>, fallback: T): T {
  if (value === undefined) return fallback;
  const key = value.toLowerCase();
  if (!Object.hasOwn(choices, key)) throw new UsageError(`${name} must be one of ${Object.keys(choices).join(', ')}, got ${JSON.stringify(value)}`);
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
