/**
 * HTTP/2 connections to one upstream service for the calls grpc-passthrough.ts forwards as bytes.
 * A gRPC unary call is one HTTP/2 stream (headers, one framed message, trailers), and a call
 * forwarded unchanged needs nothing else: grpc-js's client machinery around each call (the
 * interceptor chain, name resolution, the retry buffer, load balancing, a filter stack, message
 * framing and metadata objects) cost the gateway more CPU per forwarded Predict than everything
 * else it does for the call together. Connections are opened when first needed, `size` of them
 * used in turn, and replaced once they close, fail or are told to go away.
 */
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { connect as connectTcp } from 'node:net';

/** Connections to one upstream. */
export interface UpstreamSessions {
  readonly address: string;
  /** Opens the stream of one call; its failures (the connection's included) arrive as the stream's 'error'. */
  request(headers: OutgoingHttpHeaders): ClientHttp2Stream;
  /**
   * Whether the upstream is known to be unreachable: the last connection attempt failed and none
   * is up. While it is, each call of this tries again (at most once a second), so that the state
   * follows the upstream even when no calls come.
   */
  failing(): boolean;
  close(): void;
}

/** Pause between attempts to reach an upstream that failed, when only {@link UpstreamSessions.failing} asks. */
const RETRY_MS = 1_000;
/** TCP keepalive on the connections: a peer gone without a word is found out. */
const KEEPALIVE_MS = 30_000;
/**
 * Streams a connection carries before a new one takes over: stream ids run out at 2^30 client
 * streams, and a connection that ran out could open no more (hours away at thousands of calls a second).
 */
const STREAMS_PER_CONNECTION = 2 ** 29;
/** Flow-control windows of a connection and of each of its streams, in bytes: large answers are not held back on a fast link. */
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const STREAM_WINDOW = 1024 * 1024;

/** `host:port` (a bracketed IPv6 host included) → host and port. */
function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) };
}

/** Connections to `address` (`host:port`), `size` of them at most. */
export function upstreamSessions(address: string, size = 1): UpstreamSessions {
  const { host, port } = hostPort(address);
  const sessions: Array<ClientHttp2Session | undefined> = new Array(size).fill(undefined);
  const streams: number[] = new Array(size).fill(0);
  let turn = 0;
  let closed = false;
  // Whether the last connection made failed before it was up, and when it was made.
  let lastFailed = false;
  let lastAttemptAt = 0;
  const open = (slot: number): ClientHttp2Session => {
    lastAttemptAt = Date.now();
    streams[slot] = 0;
    const session = connect(`http://${address}`, {
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
      createConnection: () => connectTcp({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS }),
    });
    const drop = () => {
      if (sessions[slot] === session) sessions[slot] = undefined;
    };
    let connected = false;
    session.once('connect', () => {
      connected = true;
      lastFailed = false;
      session.setLocalWindowSize(CONNECTION_WINDOW);
    });
    // The calls on it fail with it (their streams' 'error'); here it only stops being used.
    session.on('error', drop);
    session.once('goaway', drop);
    session.once('close', () => {
      if (!connected) lastFailed = true;
      drop();
    });
    sessions[slot] = session;
    return session;
  };
  return {
    address,
    request(headers) {
      if (closed) throw new Error(`the connections to ${address} are closed`);
      const slot = turn;
      turn = turn + 1 === size ? 0 : turn + 1;
      let session = sessions[slot];
      if (session === undefined) session = open(slot);
      else if (++streams[slot] > STREAMS_PER_CONNECTION) {
        // The calls on it finish; new ones go to a new connection.
        session.close();
        session = open(slot);
      }
      return session.request(headers);
    },
    failing() {
      if (!lastFailed || sessions.some((s) => s !== undefined && !s.connecting)) return false;
      // Nothing up and the last attempt failed: try again now and then, calls or not.
      if (!closed && sessions[0] === undefined && Date.now() - lastAttemptAt >= RETRY_MS) open(0);
      return true;
    },
    close() {
      closed = true;
      for (const session of sessions) session?.close();
    },
  };
}
