/** The shape of one bad-input case and the small values the tables share. */
import { grpc, type GrpcJs } from '../../lib/grpc/index.js';
import type { BadInputBed } from './bed.js';
import type { Refused } from './wire.js';

/** Status codes by name, for readable tables. */
export const Code = grpc.status;

/** One bad input: the call, and what a user must get back. */
export interface BadCase {
  /** `<Service>.<Method>: what is wrong`. */
  name: string;
  /**
   * Makes the call and waits for its end. Resolving with a {@link Refused} (an import or ingestion
   * that reports bad rows one by one) states which field its first refused row named.
   */
  call: (bed: BadInputBed) => Promise<unknown>;
  /** The status code wanted (OK for inputs that are normalised or refused row by row). */
  code: GrpcJs.status;
  /** The field wanted in google.rpc.BadRequest (or the PreconditionFailure type, or the ResourceInfo type), or the refused row's field. */
  field?: string;
  /** Longest time the call may take, in ms (the cases that must be cut, not hang). */
  withinMs?: number;
  /** A defect this case shows that is not fixed yet: the case still runs and reports, but does not fail the suite. */
  todo?: string;
}

/** A date that never was. */
export const IMPOSSIBLE = { year: 2025, month: 2, day: 30 };
/** A trading day far in the future. */
export const FUTURE = { year: 2099, month: 1, day: 4 };
/** A range that ends before it starts. */
export const REVERSED = { start: { year: 2024, month: 6, day: 2 }, end: { year: 2024, month: 1, day: 2 } };

/** Symbols no one may use: empty, overlong, SQL-like, binary, spaced. */
export const BAD_SYMBOLS: ReadonlyArray<[label: string, symbol: string]> = [
  ['empty', ''],
  ['overlong', 'A'.repeat(300)],
  ['SQL-like', "NABIL'; DROP TABLE bars; --"],
  ['with a NUL byte', 'NAB\u0000IL'],
];

/** A symbol that is well-formed and unknown everywhere. */
export const UNKNOWN_SYMBOL = 'ZZZQX';

/** A page token no service ever returned. */
export const GARBAGE_TOKEN = '!!not-a-token!!';
