import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import type { Knex } from 'knex';
import { PostgresEventStore, loadCheckpoint, type GlobalCheckpoint } from '../../../eventstore';
import { createKnex } from '../../../infra';
import { parseEnvelope } from '../../../messaging/envelope';
import { kafkaTopics } from '../../../messaging/kafka/kafka-topics';
import { relayCheckpointId } from '../../../messaging/relay/outbox-relay';
import { EVENTS_EXCHANGE, declareEventTopology } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { createIsolatedEnvironment, type IsolatedEnvironment } from '../../support/isolated-environment';
import { requireService } from '../../support/stack';
import { RelayProcess, appendOrder, messagingRegistry, openKafkaTap, positionOf, reached, waitFor, type KafkaTap } from './support';

/*
 * Two relay processes on an environment of their own (so that no other relay publishes its events):
 * one leads both lanes, the other stands by. The leader is SIGKILLed in the middle of a backlog; the
 * standby must lead within the lease's bound, resume from the saved checkpoint, and get every event to
 * both brokers, with at most one re-publish window of duplicates per lane.
 */
const TTL_MS = 4000;
const RENEW_MS = 250;
const BATCH_SIZE = 10;
/** The batches a lane may have published but not yet checkpointed: those in flight plus one being saved. */
const REPUBLISH_WINDOW = { rabbitmq: (2 + 1) * BATCH_SIZE, kafka: (1 + 1) * BATCH_SIZE } as const;
const ORDERS = 60;
const EVENTS_PER_ORDER = 50;

const count = (ids: readonly string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
};

describe('relay failover', () => {
  let environment: IsolatedEnvironment;
  let db: Knex;
  let rabbit: ChannelModel;
  const rabbitIds: string[] = [];
  let kafkaTap: KafkaTap;
  const children: RelayProcess[] = [];

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    requireService('kafka');
    environment = await createIsolatedEnvironment('failover');
    db = createKnex({ poolMax: 4, applicationName: 'failover-test', databaseUrl: environment.databaseUrl });
    rabbit = await amqp.connect(environment.env.RABBITMQ_URL!);
    const channel = await rabbit.createChannel();
    await declareEventTopology(channel);
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, EVENTS_EXCHANGE, '#');
    await channel.consume(queue, (message) => message && rabbitIds.push(parseEnvelope(message.content).eventId), { noAck: true });
    kafkaTap = await openKafkaTap(kafkaTopics(environment.topicPrefix).orderEvents);
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.signal('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await kafkaTap?.close();
    await rabbit?.close();
    await db?.destroy();
    await environment?.dispose();
  }, 60_000);

  const holders = async (): Promise<Record<string, string>> => {
    const rows = await db('relay_leases').where('expires_at', '>', db.fn.now()).select<{ lane: string; holder: string }[]>('lane', 'holder');
    return Object.fromEntries(rows.map((r) => [r.lane, r.holder]));
  };
  const lanes = [relayCheckpointId('relay', 'rabbitmq'), relayCheckpointId('relay', 'kafka')];
  const checkpoints = (): Promise<GlobalCheckpoint[]> => Promise.all(lanes.map((lane) => loadCheckpoint(db, lane)));
  const withLogs = <T>(wait: Promise<T>): Promise<T> =>
    wait.catch((err: Error) => {
      throw new Error(`${err.message}\nrelay logs:\n${children.flatMap((c) => c.log().slice(-15)).join('\n')}`);
    });

  it('the standby leads within the bound after the leader is killed mid-backlog, and nothing is lost', async () => {
    const env = {
      ...environment.env,
      RELAY_LEASE_TTL_MS: String(TTL_MS),
      RELAY_LEASE_RENEW_INTERVAL_MS: String(RENEW_MS),
      RELAY_BATCH_SIZE: String(BATCH_SIZE),
      // The events are appended here, not by workflows: no fast path to wait for.
      RELAY_FAST_PATH_GRACE_MS: '0',
    };
    const leader = new RelayProcess({ ...env, RELAY_INSTANCE_ID: 'relay-a' });
    children.push(leader);
    await leader.started();
    await withLogs(waitFor('relay-a to lead both lanes', holders, (h) => lanes.every((lane) => h[lane] === 'relay-a')));
    const standby = new RelayProcess({ ...env, RELAY_INSTANCE_ID: 'relay-b' });
    children.push(standby);
    await standby.started();

    // The backlog: committed while the leader is frozen (for well under its lease), so that it is all
    // there when it resumes.
    const frozenAt = Date.now();
    leader.signal('SIGSTOP');
    const store = new PostgresEventStore(db, messagingRegistry());
    const backlog = (await Promise.all(Array.from({ length: ORDERS }, () => appendOrder(store, randomUUID(), EVENTS_PER_ORDER)))).flat();
    const last = await positionOf(db, backlog[backlog.length - 1]!);
    // The standby does not publish while relay-a's lease runs.
    expect(rabbitIds).toHaveLength(0);
    leader.signal('SIGCONT');
    expect(Date.now() - frozenAt).toBeLessThan(TTL_MS / 2);

    // Killed once its Kafka lane (the slower one) is under way but not through.
    await withLogs(waitFor('relay-a to be under way', async () => kafkaTap.eventIds().length, (n) => n >= 200, 30_000));
    leader.signal('SIGKILL');
    const killedAt = Date.now();
    await leader.exited;
    const atKill = await checkpoints();
    expect(atKill.some((checkpoint) => !reached(checkpoint, last))).toBe(true);

    await withLogs(waitFor('relay-b to lead both lanes', holders, (h) => lanes.every((lane) => h[lane] === 'relay-b'), 15_000));
    const takeoverMs = Date.now() - killedAt;
    // No earlier than the dead leader's lease allowed, no later than its expiry plus a renew round.
    expect(takeoverMs).toBeLessThan(TTL_MS + RENEW_MS + 1000);

    await withLogs(waitFor('every backlog event on RabbitMQ', async () => rabbitIds, (ids) => new Set(ids).size >= backlog.length, 60_000));
    await withLogs(waitFor('every backlog event on Kafka', async () => kafkaTap.eventIds(), (ids) => new Set(ids).size >= backlog.length, 60_000));
    await withLogs(waitFor('relay-b checkpoints at the end', checkpoints, (cs) => cs.every((c) => reached(c, last)), 30_000));

    const duplicates = { rabbitmq: 0, kafka: 0 };
    for (const [broker, ids] of [['rabbitmq', rabbitIds], ['kafka', kafkaTap.eventIds()]] as const) {
      const counts = count(ids);
      expect(backlog.filter((id) => !counts.has(id))).toEqual([]);
      expect([...counts.values()].every((n) => n <= 2)).toBe(true);
      duplicates[broker] = ids.length - counts.size;
      expect(duplicates[broker]).toBeLessThanOrEqual(REPUBLISH_WINDOW[broker]);
    }
    // The standby took over once per lane, under a new epoch.
    expect(standby.log().filter((l) => l.includes('"relay lane leadership acquired"'))).toHaveLength(2);
    const epochs = await db('relay_leases').whereIn('lane', lanes).pluck<string[]>('epoch');
    expect(epochs.map(String)).toEqual(['2', '2']);
    console.log(JSON.stringify({ backlog: backlog.length, takeoverMs, duplicates, republishWindow: REPUBLISH_WINDOW }));
  }, 180_000);
});
