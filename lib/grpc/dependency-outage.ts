/**
 * Recognises a failure that means "a store or bus cannot be reached right now", whichever service
 * met it: ClickHouse (server or embedded chdb), PostgreSQL (pg or PGlite), NATS, or a bare socket
 * error. errors.ts turns what it finds into UNAVAILABLE, so a client retries instead of seeing
 * INTERNAL for an outage. The answer names the dependency and a short reason built from codes
 * only, never from the driver's text, which may carry hosts, users or statements.
 */
import { NatsError } from 'nats';
import { EventBusClosedError } from '../events/errors.js';
import { DatabaseUnavailableError } from '../postgres/errors.js';
import { StoreError, StoreUnavailableError } from '../store/errors.js';

/** A dependency that is down, as a status message tells it. */
export interface DependencyOutage {
  /** What is down, e.g. `ClickHouse`, `PostgreSQL`, `NATS`. */
  dependency: string;
  /** Why, in a few words from error codes, e.g. `connection refused`. */
  reason: string;
}

/** Socket-level codes: the peer is not there or went away, a fact about the network, not the request. */
const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection dropped',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** NATS client codes that mean the server is not reachable now (nats.js ErrorCode values). */
const NATS_REASONS: Record<string, string> = {
  CONNECTION_CLOSED: 'connection closed',
  CONNECTION_DRAINING: 'connection draining',
  CONNECTION_REFUSED: 'connection refused',
  CONNECTION_TIMEOUT: 'connection timed out',
  DISCONNECT: 'disconnected',
  TIMEOUT: 'timed out',
  '408': 'request timed out',
  '503': 'no responders (JetStream not reachable)',
};

/** ClickHouse server codes that say "not now" (the drivers classify them as unavailable). */
const CLICKHOUSE_REASONS: Record<number, string> = {
  202: 'too many simultaneous queries',
  209: 'socket timeout',
  210: 'network error',
  242: 'table is read-only',
};

/** SQLSTATEs the postgres kit classifies as unavailable, in words. */
function sqlStateReason(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (code.startsWith('08')) return 'connection failure';
  if (code === '57P01' || code === '57P02') return 'server shutting down';
  if (code === '57P03') return 'server starting';
  if (code === '53300') return 'too many connections';
  if (code === '57014') return 'statement cancelled';
  return undefined;
}

/** The error and its causes (`cause`, AggregateError's `errors`), outermost first, bounded. */
function* chain(error: unknown): Generator<unknown> {
  const queue = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 16) {
    const next = queue.shift();
    if (next === undefined || next === null || seen.has(next)) continue;
    seen.add(next);
    yield next;
    if (typeof next === 'object') {
      const { cause, errors } = next as { cause?: unknown; errors?: unknown };
      if (cause !== undefined) queue.push(cause);
      if (Array.isArray(errors)) queue.push(...errors);
    }
  }
}

/** What a socket-level error code (ECONNREFUSED, …) says in words; undefined for any other code. */
export function socketFailure(code: unknown): string | undefined {
  return typeof code === 'string' && code in SOCKET_REASONS ? SOCKET_REASONS[code] : undefined;
}

const codeOf = (error: unknown): unknown => (typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : '');

/** The socket-level reason anywhere in the chain, or a timeout or hang-up told only in words. */
function socketReason(error: unknown): string | undefined {
  for (const link of chain(error)) {
    const reason = socketFailure(codeOf(link));
    if (reason !== undefined) return reason;
  }
  for (const link of chain(error)) {
    const message = messageOf(link);
    if (/timeout|timed out/i.test(message)) return 'timed out';
    if (/socket hang up|connection terminated/i.test(message)) return 'connection dropped';
  }
  return undefined;
}

function isChdb(error: StoreUnavailableError): boolean {
  return error.message.startsWith('chdb:') || [...chain(error.cause)].some((link) => String(codeOf(link)).startsWith('CHDB_'));
}

function storeOutage(error: StoreUnavailableError): DependencyOutage {
  if (isChdb(error)) {
    const closed = [...chain(error.cause)].some((link) => codeOf(link) === 'CHDB_CLOSED');
    return { dependency: 'ClickHouse (embedded)', reason: closed ? 'engine closed' : 'engine cannot be opened' };
  }
  if (/ is closed$/.test(error.message)) return { dependency: 'ClickHouse', reason: 'store closed' };
  const reason =
    (error.clickhouseCode !== undefined ? CLICKHOUSE_REASONS[error.clickhouseCode] : undefined) ?? socketReason(error) ?? 'not reachable';
  return { dependency: 'ClickHouse', reason };
}

function databaseOutage(error: DatabaseUnavailableError): DependencyOutage {
  const reason =
    sqlStateReason(error.code) ??
    socketReason(error) ??
    (/closed|not queryable|after calling end/i.test(error.message) ? 'database closed' : 'not reachable');
  return { dependency: 'PostgreSQL', reason };
}

function natsReason(error: unknown): string | undefined {
  const code = codeOf(error);
  const isNats = error instanceof NatsError || (error instanceof Error && error.name === 'NatsError');
  return isNats && typeof code === 'string' ? NATS_REASONS[code] : undefined;
}

/** ClickHouse's NOT_ENOUGH_SPACE: a part could not be written for lack of disk space. */
const CLICKHOUSE_NOT_ENOUGH_SPACE = 243;

/**
 * The store named, when `error` (or a cause) is a ClickHouse or chdb write that failed because its
 * disk is full: ClickHouse's NOT_ENOUGH_SPACE, or the operating system's ENOSPC told in a code or
 * in words. Undefined for anything else. errors.ts turns it into RESOURCE_EXHAUSTED.
 */
export function storeOutOfSpace(error: unknown): string | undefined {
  for (const link of chain(error)) {
    if (!(link instanceof StoreError)) continue;
    const causes = [...chain(link)];
    const full =
      link.clickhouseCode === CLICKHOUSE_NOT_ENOUGH_SPACE ||
      causes.some(
        (c) =>
          codeOf(c) === 'ENOSPC' ||
          (c as { clickhouseCode?: unknown }).clickhouseCode === CLICKHOUSE_NOT_ENOUGH_SPACE ||
          /no space left on device|not enough space/i.test(messageOf(c)),
      );
    if (!full) continue;
    const embedded = link.message.startsWith('chdb:') || causes.some((c) => String(codeOf(c)).startsWith('CHDB_'));
    return embedded ? 'ClickHouse (embedded)' : 'ClickHouse';
  }
  return undefined;
}

/**
 * The dependency outage `error` stands for, looking through its causes; undefined for anything
 * else (a bad statement, a bug), which stays INTERNAL.
 */
export function dependencyOutage(error: unknown): DependencyOutage | undefined {
  for (const link of chain(error)) {
    if (link instanceof StoreUnavailableError) return storeOutage(link);
    if (link instanceof DatabaseUnavailableError) return databaseOutage(link);
    if (link instanceof EventBusClosedError) return { dependency: 'NATS', reason: 'connection closed' };
    const nats = natsReason(link);
    if (nats !== undefined) return { dependency: 'NATS', reason: nats };
  }
  for (const link of chain(error)) {
    const reason = socketFailure(codeOf(link));
    if (reason !== undefined) return { dependency: 'a dependency', reason };
  }
  return undefined;
}
