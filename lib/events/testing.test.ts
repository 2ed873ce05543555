import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import { startNatsServer } from './testing.js';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    const t = setTimeout(() => done(false), 1_000);
    function done(ok: boolean) {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    }
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

describe('startNatsServer', { timeout: 30_000 }, () => {
  it('starts on a free port, restarts on the same port and store, and stops without leftovers', async () => {
    const server = await startNatsServer();
    try {
      assert.match(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(await accepts(server.port));
      assert.ok(existsSync(server.storeDir));
      const firstPid = server.pid;
      assert.ok(alive(firstPid));

      await server.restart();
      assert.notEqual(server.pid, firstPid);
      assert.equal(alive(firstPid), false, 'old process is gone after restart');
      assert.ok(await accepts(server.port), 'same port serves after restart');
      assert.ok(existsSync(server.storeDir), 'store kept across restart');

      const pid = server.pid;
      await server.stop();
      assert.equal(alive(pid), false);
      assert.equal(server.pid, undefined);
      assert.equal(existsSync(server.storeDir), false, 'store removed');
      assert.equal(await accepts(server.port), false);
      await server.stop(); // idempotent
      await assert.rejects(server.restart(), /stopped/);
    } finally {
      await server.stop();
    }
  });

  it('gives two servers two ports', async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    try {
      assert.notEqual(a.port, b.port);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('fails fast with the server output when the server cannot start', async () => {
    await assert.rejects(startNatsServer({ args: ['--no-such-flag'] }), /nats-server exited/);
    await assert.rejects(startNatsServer({ binary: '/nonexistent/nats-server' }), /failed to spawn/);
  });
});
