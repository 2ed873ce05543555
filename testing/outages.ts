/**
 * Dependencies that go down under a running service, at the socket, so the service meets an
 * outage the way it would in production: its own driver sees connections refused or reset.
 *
 * - {@link cuttableProxy}: a TCP forwarder in front of a real server (PostgreSQL, NATS); cut()
 *   resets every open connection and stops listening.
 * - {@link clickHouseStandIn}: this machine has no ClickHouse server, so an HTTP endpoint that
 *   accepts every statement with an empty answer lets a service migrate and start on
 *   CLICKHOUSE_URL; cut() then resets every connection and stops listening. Only the outage is
 *   under test: what a service reads from it while up is empty.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A dependency that can be taken down; `await using` takes it down for good. */
export interface Outage extends AsyncDisposable {
  /** `127.0.0.1:<port>`, to put in the service's URL. */
  readonly address: string;
  /** Resets every open connection and stops listening: from now on connections are refused. */
  cut(): Promise<void>;
}

function portOf(server: Server | HttpServer): number {
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('not listening');
  return address.port;
}

function outage(server: Server | HttpServer, sockets: Set<Socket>): Outage {
  let closed: Promise<void> | undefined;
  const cut = () =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    }));
  return { address: `127.0.0.1:${portOf(server)}`, cut, [Symbol.asyncDispose]: cut };
}

/** A TCP forwarder to `target` (`host:port`) on a free loopback port. */
export async function cuttableProxy(target: string): Promise<Outage> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer((client) => {
    const upstream = connect({ host, port });
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return outage(server, sockets);
}

/** The ClickHouse stand-in described in the file comment, on a free loopback port. */
export async function clickHouseStandIn(): Promise<Outage> {
  const sockets = new Set<Socket>();
  const server = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'text/plain', 'x-clickhouse-summary': '{}' }).end());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return outage(server, sockets);
}
