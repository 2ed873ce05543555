/** Shared pieces of the benchmarks: free ports, service processes, timing and printing. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A service running as its own process, as `make dev` runs it. */
export interface ServiceProcess {
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/**
 * Starts `services/<name>/main.ts` in a child process on free ports and waits (bounded) until its
 * /readyz answers 200. `env` adds to the environment; the port variables are set here.
 */
export async function startServiceProcess(name: string, env: Record<string, string>, timeoutMs = 90_000): Promise<ServiceProcess> {
  const port = await freePort();
  const metricsPort = await freePort();
  const upper = name.toUpperCase();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services', name, 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', BIND_HOST: '127.0.0.1', ...env, [`${upper}_PORT`]: String(port), [`${upper}_METRICS_PORT`]: String(metricsPort) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} during start`);
    try {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      if (response.status === 200) return { port, metricsPort, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`${name} was not ready within ${timeoutMs} ms`);
}

/** Seconds since `start` (a performance.now() reading). */
export const secondsSince = (start: number) => (performance.now() - start) / 1000;

/** Formats a rate with thousands separators. */
export const rate = (n: number) => Math.round(n).toLocaleString('en-US');

/** Prints rows as an aligned table under a title. */
export function printTable(title: string, rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  console.log(`\n${title}`);
  for (const [index, row] of cells.entries()) {
    console.log('  ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   '));
    if (index === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('   '));
  }
}
