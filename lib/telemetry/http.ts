import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsRegistry } from './metrics.js';

/** Options of {@link startTelemetryServer}. */
export interface TelemetryServerOptions {
  port: number;
  host?: string;
  /**
   * Whether the service can do its work (stores open, consumers running, dependencies reachable).
   * A boolean answers /readyz in plain text; an object's `body` is sent as JSON (its reason, its checks).
   */
  isReady: () => boolean | ReadyAnswer | Promise<boolean | ReadyAnswer>;
}

/** A readiness answer with a JSON body for /readyz. */
export interface ReadyAnswer {
  ready: boolean;
  body: unknown;
}

/** The HTTP side of a service: `/metrics` (Prometheus text), `/healthz` (alive), `/readyz` (ready). */
export interface TelemetryServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the metrics and health HTTP server; resolves once it listens. */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const server: Server = createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    // A failing collector or readiness check answers 500; thrown here it would be an unhandled
    // rejection, which ends the whole process.
    try {
      if (path === '/metrics') {
        const body = await metricsRegistry.metrics();
        response.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(body);
      } else if (path === '/healthz') {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const answer = await options.isReady();
        if (typeof answer === 'boolean') {
          response.writeHead(answer ? 200 : 503, { 'content-type': 'text/plain' }).end(answer ? 'ready\n' : 'not ready\n');
        } else {
          response.writeHead(answer.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(answer.body)}\n`);
        }
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    } catch {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('internal error\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
