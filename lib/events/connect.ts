/**
 * The first connection to NATS, bounded: a few attempts a moment apart (a server that is still
 * starting gets its chance), then a named error that says where and why, so a service that
 * cannot reach NATS stops with one clear line instead of hanging or printing a raw stack.
 */
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import { maskCredentials } from '../telemetry/redact.js';
import { EventError } from './errors.js';

/** The first connection to NATS failed on every attempt (or for a reason no retry mends). */
export class EventConnectError extends EventError {
  override readonly name = 'EventConnectError';
  constructor(
    message: string,
    /** The servers tried, credentials masked. */
    readonly servers: string,
    /** nats.js's code (`CONNECTION_REFUSED`, `TIMEOUT`, `AUTHORIZATION_VIOLATION`, …), when it gave one. */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Failures worth another attempt: nobody answered yet. Bad credentials or TLS are not. */
const RETRYABLE = new Set(['CONNECTION_REFUSED', 'TIMEOUT', 'DISCONNECT']);

/** nats.js codes in words. */
const REASONS: Record<string, string> = {
  CONNECTION_REFUSED: 'connection refused',
  TIMEOUT: 'no answer in time',
  AUTHORIZATION_VIOLATION: 'authorization failed (check the user, password or token in NATS_URL)',
  AUTHENTICATION_EXPIRED: 'credentials expired',
};

/**
 * Connects with `options`, trying up to `attempts` times `waitMs` apart while nobody answers.
 * @throws EventConnectError naming the servers and the reason.
 */
export async function connectWithAttempts(options: ConnectionOptions, attempts: number, waitMs: number): Promise<NatsConnection> {
  const servers = maskCredentials([options.servers ?? 'nats://127.0.0.1:4222'].flat().join(','));
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(options);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const known = typeof code === 'string' ? code : undefined;
      if (known && RETRYABLE.has(known) && attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        continue;
      }
      const reason = (known && REASONS[known]) ?? (error instanceof Error ? error.message : String(error));
      const tries = attempt > 1 ? ` (${attempt} attempts over ${((Date.now() - started) / 1000).toFixed(1)} s)` : '';
      throw new EventConnectError(`cannot connect to NATS at ${servers}: ${reason}${tries}`, servers, known, { cause: error });
    }
  }
}
