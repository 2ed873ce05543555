/**
 * Why a service could not start, in one sentence an operator can act on: what is wrong, with the
 * setting that caused it (credentials masked), and how to fix it. Covers what start-up actually
 * trips over: configuration, NATS, PostgreSQL, ClickHouse, the embedded stores, and a port taken.
 */
import { ConfigError } from '../config/index.js';
import { EventConnectError } from '../events/connect.js';
import { DatabaseError } from '../postgres/errors.js';
import { StoreError } from '../store/errors.js';
import { maskCredentials } from '../telemetry/redact.js';

/** The explanation of a start-up failure. */
export interface StartupProblem {
  /** One line: what is wrong and how to fix it. */
  readonly message: string;
  /** The environment variable at fault, when one is. */
  readonly variable?: string;
  /** False when the error was not recognised: its stack is then worth logging. */
  readonly known: boolean;
}

/** Socket and driver codes in words. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  ERR_INVALID_URL: 'not a valid URL',
  '28P01': 'password authentication failed (check the user and password)',
  '28000': 'connection not authorised (check the user and pg_hba.conf)',
  '3D000': 'database does not exist (create it first)',
  '53300': 'too many connections',
  '57P03': 'server is starting up',
};

/** The innermost meaningful reason along an error's cause chain. */
function reasonOf(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && REASONS[code]) return REASONS[code];
  }
  const message = error instanceof Error ? error.message : String(error);
  // Drop the statement our store errors append: the reader needs the cause, not the SQL.
  return message.replace(/ \[sql: .*\]$/s, '').split('\n')[0];
}

/** `NAME=value` with credentials masked, or `NAME (unset)`. */
function setting(env: NodeJS.ProcessEnv, name: string, fallback?: string): string {
  const value = env[name] || fallback;
  return value ? `${name}=${maskCredentials(value)}` : `${name} (unset)`;
}

/**
 * Explains `error` thrown while starting service `service`. `config` (when it was read) maps a
 * port that cannot be bound back to its variable.
 */
export function explainStartupError(
  error: unknown,
  service: string,
  env: NodeJS.ProcessEnv = process.env,
  config?: Record<string, unknown>,
): StartupProblem {
  const reason = reasonOf(error);
  if (error instanceof ConfigError) {
    const variables = error.problems.map((p) => p.split(':')[0]);
    return {
      message: `invalid configuration: ${error.problems.join('; ')}; fix ${variables.length > 1 ? 'these variables' : 'this variable'} (README: "Real servers instead of the embedded defaults")`,
      variable: variables[0],
      known: true,
    };
  }
  if (error instanceof EventConnectError) {
    return {
      message: `cannot connect to NATS at ${setting(env, 'NATS_URL', 'nats://127.0.0.1:4223')}: ${error.message.slice(`cannot connect to NATS at ${error.servers}: `.length)}; start nats-server (make dev runs one on 4223) or set NATS_URL to a server that runs`,
      variable: 'NATS_URL',
      known: true,
    };
  }
  if (error instanceof DatabaseError) {
    if (env.DATABASE_URL) {
      return {
        message: `cannot connect to PostgreSQL at ${setting(env, 'DATABASE_URL')}: ${reason}; start PostgreSQL or unset DATABASE_URL to use embedded PGlite`,
        variable: 'DATABASE_URL',
        known: true,
      };
    }
    return {
      message: `cannot open the embedded PGlite database under ${setting(env, 'DATA_DIR', '.data')}: ${reason}; stop the other ${service} that uses it, or set DATA_DIR to another folder`,
      variable: 'DATA_DIR',
      known: true,
    };
  }
  if (error instanceof StoreError) {
    if (env.CLICKHOUSE_URL) {
      return {
        message: `cannot use ClickHouse at ${setting(env, 'CLICKHOUSE_URL')}: ${reason.replace(/^ClickHouse server unreachable: /, '')}; start ClickHouse (check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD) or unset CLICKHOUSE_URL to use embedded chdb`,
        variable: 'CLICKHOUSE_URL',
        known: true,
      };
    }
    return {
      message: `cannot open the embedded ClickHouse (chdb) store under ${setting(env, 'DATA_DIR', '.data')}: ${reason}; stop the other ${service} that uses it, or set DATA_DIR to another folder`,
      variable: 'DATA_DIR',
      known: true,
    };
  }
  const e = { ...(error as { code?: unknown; port?: unknown; address?: unknown; syscall?: unknown }) };
  // grpc-js reports a failed bind only in its message: `… errors: [listen EADDRINUSE: address already in use 127.0.0.1:50051]`.
  const bind = /listen (EADDRINUSE|EACCES)\b.*? (\S+):(\d+)\]?$/m.exec(error instanceof Error ? error.message : '');
  if (bind) Object.assign(e, { syscall: 'listen', code: bind[1], address: bind[2], port: Number(bind[3]) });
  if (e.syscall === 'listen' && (e.code === 'EADDRINUSE' || e.code === 'EACCES')) {
    const variable = Object.entries(config ?? {}).find(([key, value]) => key.endsWith('PORT') && Number(value) === Number(e.port))?.[0];
    const what = e.code === 'EADDRINUSE' ? 'address already in use' : 'permission denied';
    return {
      message: `cannot listen on ${String(e.address)}:${String(e.port)}: ${what}; stop what runs there or set ${variable ?? `${service.toUpperCase()}_PORT`} to a free port`,
      variable,
      known: true,
    };
  }
  return { message: `${service} could not start: ${reason}`, known: false };
}
