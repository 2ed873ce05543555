import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ModelChangeSchema } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MAX_PENDING_CHANGES, ModelChanges } from './changes.js';

const change = (name: string, version: number) => create(ModelChangeSchema, { modelVersion: { name, version } });
const never = new AbortController().signal;

describe('model change feed', () => {
  it('hands each watcher the changes of its name, in order, and says when it has been idle', async () => {
    const feed = new ModelChanges();
    const ridge = feed.subscribe('ridge');
    const all = feed.subscribe();
    feed.publish(change('ridge', 1));
    feed.publish(change('trees', 1));
    feed.publish(change('ridge', 2));
    const seen = async (s: typeof ridge, n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const next = await s.next(10, never);
        out.push(
          'change' in next
            ? `${next.change.modelVersion?.name}/${next.change.modelVersion?.version}`
            : 'idle' in next
              ? 'idle'
              : next.ended,
        );
      }
      return out;
    };
    assert.deepEqual(await seen(ridge, 3), ['ridge/1', 'ridge/2', 'idle']);
    assert.deepEqual(await seen(all, 4), ['ridge/1', 'trees/1', 'ridge/2', 'idle']);
    ridge.close();
    assert.equal(feed.size, 1);
    feed.close();
    assert.deepEqual(await all.next(10, never), { ended: 'closed' });
    assert.equal(feed.size, 0);
  });

  it('wakes a waiting watcher at once, and stops waiting when the call is cancelled', async () => {
    const feed = new ModelChanges();
    const s = feed.subscribe();
    const started = Date.now();
    const waiting = s.next(5_000, never);
    feed.publish(change('ridge', 3));
    assert.ok('change' in (await waiting));
    const controller = new AbortController();
    const cancelled = s.next(5_000, controller.signal);
    controller.abort();
    assert.deepEqual(await cancelled, { idle: true });
    assert.ok(Date.now() - started < 1_000);
  });

  it('cuts off a watcher that falls too far behind instead of queueing without bound', async () => {
    const feed = new ModelChanges();
    const slow = feed.subscribe();
    for (let i = 0; i <= MAX_PENDING_CHANGES; i++) feed.publish(change('ridge', i + 1));
    assert.deepEqual(await slow.next(10, never), { ended: 'overflow' });
    assert.equal(feed.size, 0);
  });
});
