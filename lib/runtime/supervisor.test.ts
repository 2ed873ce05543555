import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { waitFor } from '../events/testing.js';
import { exitOf, supervise, type SupervisedChild } from './supervisor.js';

/** A real child process: a Node one-liner that exits with `code` after `lifeMs`, or runs until stopped. */
function tinyProcess(lifeMs: number | undefined, code = 3) {
  const script = lifeMs === undefined ? 'setInterval(() => {}, 1000)' : `setTimeout(() => process.exit(${code}), ${lifeMs})`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  const exited = exitOf(child);
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Whether a process with this pid still exists. */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Records when each child starts and exits, and every report line. */
function recorder(make: () => ReturnType<typeof tinyProcess>) {
  const starts: number[] = [];
  const exits: number[] = [];
  const lines: string[] = [];
  const pids: Array<number | undefined> = [];
  return {
    starts,
    exits,
    lines,
    pids,
    log: (line: string) => void lines.push(line),
    async start(): Promise<SupervisedChild> {
      starts.push(Date.now());
      const child = make();
      pids.push(child.child.pid);
      void child.exited.then(() => exits.push(Date.now()));
      return child;
    },
  };
}

describe('supervise', () => {
  it('reports a child that exits, restarts it with a doubling pause, and gives up after too many restarts in the window', async () => {
    const rec = recorder(() => tinyProcess(30, 3));
    let gaveUp = false;
    const supervisor = await supervise({
      name: 'flaky',
      start: () => rec.start(),
      initialDelayMs: 100,
      maxDelayMs: 400,
      maxRestarts: 4,
      windowMs: 60_000,
      log: rec.log,
      onGiveUp: () => (gaveUp = true),
    });
    try {
      await waitFor(() => supervisor.state === 'gave up', 'the supervisor to give up', { timeoutMs: 20_000 });
      assert.ok(gaveUp);
      assert.equal(rec.starts.length, 5, 'the first start and four restarts');
      assert.equal(supervisor.restarts, 4);
      // Each pause runs from an exit to the next start: 100, 200, 400, then capped at 400 ms.
      const pauses = rec.starts.slice(1).map((start, i) => start - rec.exits[i]);
      [100, 200, 400, 400].forEach((least, i) =>
        assert.ok(pauses[i] >= least - 5, `pause ${i + 1} was ${pauses[i]} ms, want at least ${least}`),
      );
      const exits = rec.lines.filter((line) => line.includes('exited'));
      assert.match(exits[0], /^make dev: flaky exited unexpectedly \(code 3\); restarting in 100 ms \(restart 1 of at most 4 in 1 min\)$/);
      assert.match(exits[3], /restarting in 400 ms \(restart 4 of at most 4/);
      assert.equal(rec.lines.filter((line) => line === 'make dev: flaky is back').length, 4);
      const last = rec.lines.at(-1) ?? '';
      assert.match(last, /^make dev: flaky exited unexpectedly \(code 3\); giving up on flaky \(more than 4 restarts in 1 min\)/);
      assert.equal(rec.lines.filter((line) => line.includes('giving up')).length, 1);
    } finally {
      await supervisor.stop();
    }
    assert.ok(
      rec.pids.every((pid) => !alive(pid)),
      'no child is left behind',
    );
  });

  it('names the signal of a killed child, brings it back, and stop() ends it with nothing left behind', async () => {
    const rec = recorder(() => tinyProcess(undefined));
    let restarted = 0;
    const supervisor = await supervise({
      name: 'steady',
      start: () => rec.start(),
      initialDelayMs: 50,
      log: rec.log,
      onRestarted: () => restarted++,
    });
    const first = rec.pids[0];
    process.kill(first!, 'SIGKILL');
    await waitFor(() => supervisor.state === 'running' && rec.starts.length === 2, 'the restart', { timeoutMs: 10_000 });
    assert.equal(restarted, 1);
    assert.match(rec.lines[0], /^make dev: steady exited unexpectedly \(signal SIGKILL\); restarting in 50 ms/);
    assert.equal(rec.lines[1], 'make dev: steady is back');
    assert.ok(alive(rec.pids[1]));
    await supervisor.stop();
    assert.equal(supervisor.state, 'stopped');
    assert.ok(!alive(rec.pids[1]), 'stop() ended the child');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(rec.starts.length, 2, 'a stopped child is not restarted');
    assert.equal(rec.lines.length, 2, 'and its exit is not reported');
  });

  it('starts the pause from the first again once a child had stayed up a while', async () => {
    // Lives 300 ms, longer than stableAfterMs: every exit is a fresh trouble with the shortest pause.
    const rec = recorder(() => tinyProcess(300, 1));
    const supervisor = await supervise({
      name: 'recovering',
      start: () => rec.start(),
      initialDelayMs: 50,
      stableAfterMs: 200,
      maxRestarts: 10,
      log: rec.log,
    });
    try {
      await waitFor(() => rec.lines.filter((line) => line.includes('exited')).length >= 3, 'three exits', { timeoutMs: 15_000 });
      for (const line of rec.lines.filter((l) => l.includes('exited'))) assert.match(line, /restarting in 50 ms/);
    } finally {
      await supervisor.stop();
    }
  });

  it('rejects when the first start fails, and keeps trying when a restart fails', async () => {
    await assert.rejects(
      supervise({ name: 'broken', start: () => Promise.reject(new Error('no such binary')), log: () => {} }),
      /no such binary/,
    );

    const rec = recorder(() => tinyProcess(undefined));
    let calls = 0;
    const supervisor = await supervise({
      name: 'shaky',
      start: async () => {
        calls++;
        if (calls === 2) throw new Error('port taken\nsecond line');
        return rec.start();
      },
      initialDelayMs: 50,
      log: rec.log,
    });
    try {
      process.kill(rec.pids[0]!, 'SIGKILL');
      await waitFor(() => supervisor.state === 'running' && calls === 3, 'the third start', { timeoutMs: 10_000 });
      assert.match(rec.lines[1], /^make dev: shaky failed to start again \(port taken\); restarting in 100 ms/);
    } finally {
      await supervisor.stop();
    }
    assert.ok(rec.pids.every((pid) => !alive(pid)));
  });
});
