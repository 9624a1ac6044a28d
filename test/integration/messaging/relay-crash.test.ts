import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { PostgresEventStore, loadCheckpoint, type GlobalCheckpoint } from '../../../eventstore';
import { relayCheckpointId } from '../../../messaging/relay/outbox-relay';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import {
  appendOrder,
  containsAll,
  messagingRegistry,
  openKafkaTap,
  openRabbitTap,
  positionOf,
  positionRelayAtHead,
  RelayProcess,
  reached,
  uniqueName,
  waitFor,
  type KafkaTap,
  type RabbitTap,
} from './support';

describe('relay process killed between commit and publish', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let rabbitTap: RabbitTap;
  let kafkaTap: KafkaTap;
  const children: RelayProcess[] = [];

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    requireService('kafka');
    db = await openTestDatabase();
    store = new PostgresEventStore(db, messagingRegistry());
    rabbitTap = await openRabbitTap('Order.#');
    kafkaTap = await openKafkaTap();
  });

  afterAll(async () => {
    for (const child of children) child.signal('SIGKILL');
    await rabbitTap?.close();
    await kafkaTap?.close();
    await db?.destroy();
  });

  const laneCheckpoints = (prefix: string): Promise<GlobalCheckpoint[]> =>
    Promise.all((['rabbitmq', 'kafka'] as const).map((broker) => loadCheckpoint(db, relayCheckpointId(prefix, broker))));

  /** A wait that, when it times out, shows what the relay processes logged. */
  const withLogs = <T>(wait: Promise<T>): Promise<T> =>
    wait.catch((err: Error) => {
      throw new Error(`${err.message}\nrelay logs:\n${children.flatMap((c) => c.log().slice(-15)).join('\n')}`);
    });

  it('publishes, after a restart, the event it was killed before publishing', async () => {
    const prefix = uniqueName('relay-crash');
    await positionRelayAtHead(db, prefix);
    const first = new RelayProcess({ RELAY_CHECKPOINT_PREFIX: prefix });
    children.push(first);
    await first.started();

    const orderId = randomUUID();
    const before = await appendOrder(store, orderId, 1);
    await withLogs(waitFor('the first event on RabbitMQ', async () => rabbitTap.eventIds(), (ids) => containsAll(ids, before)));
    await withLogs(waitFor('the first event on Kafka', async () => kafkaTap.eventIds(), (ids) => containsAll(ids, before)));

    // Frozen, the relay cannot publish what commits next; then it dies without a chance to clean up.
    first.signal('SIGSTOP');
    const afterCommit = await appendOrder(store, orderId, 2, 1);
    first.signal('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Its checkpoints say it never published them. (The brokers cannot tell: another relay on the
    // shared database, if one runs, publishes them too.)
    const last = await positionOf(db, afterCommit[afterCommit.length - 1]!);
    for (const checkpoint of await laneCheckpoints(prefix)) expect(reached(checkpoint, last)).toBe(false);

    const second = new RelayProcess({ RELAY_CHECKPOINT_PREFIX: prefix });
    children.push(second);
    await second.started();
    await withLogs(waitFor('the restarted relay past them', () => laneCheckpoints(prefix), (checkpoints) => checkpoints.every((c) => reached(c, last))));
    await withLogs(waitFor('the committed events on RabbitMQ', async () => rabbitTap.eventIds(), (ids) => containsAll(ids, afterCommit)));
    await withLogs(waitFor('the committed events on Kafka', async () => kafkaTap.eventIds(), (ids) => containsAll(ids, afterCommit)));

    // Caught up, it says so on its health and metrics endpoints.
    const base = `http://127.0.0.1:${second.metricsPort()}`;
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: { status: 'up' }, rabbitmq: { status: 'up' }, kafka: { status: 'up' } } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const broker of ['rabbitmq', 'kafka']) {
      expect(metrics).toMatch(new RegExp(`^relay_published_events\\{broker="${broker}"\\} [1-9]`, 'm'));
      expect(metrics).toMatch(new RegExp(`^relay_lag_events\\{broker="${broker}"\\} \\d+`, 'm'));
      // The only relay on its prefix leads both lanes; it took each once.
      expect(metrics).toMatch(new RegExp(`^relay_leader\\{lane="${broker}"\\} 1$`, 'm'));
      expect(metrics).toMatch(new RegExp(`^relay_leadership_changes_total\\{lane="${broker}",change="acquired"\\} 1$`, 'm'));
    }

    // SIGTERM stops it gracefully: exit code 0, and it says so in its structured log.
    second.signal('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.log().some((line) => line.startsWith('{') && (JSON.parse(line) as { msg?: string }).msg === 'relay stopped')).toBe(true);
  }, 90_000);
});
