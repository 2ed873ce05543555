/**
 * One cleartext port for HTTP/1.1 and h2c. Node's http2.createServer cannot take HTTP/1.1 on a
 * cleartext port (allowHTTP1 is for TLS), so a plain TCP server looks at the first bytes of each
 * connection: the HTTP/2 connection preface starts with `PRI` (a method HTTP/1.1 reserves), and
 * such a connection goes to the HTTP/2 server, any other to the HTTP/1.1 server.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';

/** A request handler both servers call. */
export type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

/** Takes an HTTP/2 stream before `Handler` sees it: true when it serves the stream itself. */
export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

/** The listening port. */
export interface Listener {
  readonly port: number;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then closes every connection. */
  close(graceMs: number): Promise<void>;
}

const PREFACE = Buffer.from('PRI');

/**
 * Listens on `host:port` and hands every request to `handler`, whatever the HTTP version; every
 * HTTP/2 stream is offered to `streams` first, if given.
 */
export async function listen(handler: Handler, port: number, host: string, streams?: StreamHandler): Promise<Listener> {
  const http1 = createHttpServer(handler as (req: IncomingMessage, res: ServerResponse) => void);
  // Server streams (WatchPredictions over Connect) stay open for as long as the caller wants.
  http1.requestTimeout = 0;
  http1.keepAliveTimeout = 65_000;
  const http2 = createHttp2Server(
    { settings: { maxConcurrentStreams: 1_000 } },
    handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  if (streams) {
    // node:http2 makes the request and response of `handler` in a 'stream' listener of its own: a
    // stream `streams` takes is kept from it, so that neither object is made for it.
    const compat = http2.listeners('stream') as Array<(...args: unknown[]) => void>;
    if (compat.length !== 1) throw new Error(`node:http2 has ${compat.length} stream listeners where one was expected`);
    http2.removeAllListeners('stream');
    http2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      if (!streams(stream, headers)) compat[0].call(http2, stream, headers, flags, rawHeaders);
    });
  }
  const sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const sockets = new Set<Socket>();
  const tcp = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.once('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const isHttp2 = chunk.subarray(0, PREFACE.length).equals(PREFACE.subarray(0, Math.min(PREFACE.length, chunk.length)));
      // The HTTP/2 session reads what is buffered and then the socket's handle itself: resuming
      // the socket here would steal bytes from it. The HTTP/1.1 parser reads through 'data'.
      if (isHttp2) http2.emit('connection', socket);
      else {
        http1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });
  return {
    port: (tcp.address() as AddressInfo).port,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const session of sessions) session.close();
      // Connections close as their last request ends; whatever is left after the grace is cut.
      const until = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < until) {
        http1.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
