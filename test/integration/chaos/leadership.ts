/**
 * What the chaos test measures about relay leadership and duplicate publishes: the terms of each
 * lane's lease as relay_leases shows them (sampled while the run goes on), how long a lane was left
 * without a live leader between two terms, and how many copies of each event each broker received.
 */
import amqp from 'amqplib';
import type { Knex } from 'knex';
import { ENVELOPE_HEADERS, parseEnvelope } from '../../../messaging/envelope';
import { EVENTS_EXCHANGE, declareEventTopology } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { openKafkaTap } from '../messaging/support';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One holder's hold of a lane's lease, under one epoch. */
export interface LeaseTerm {
  lane: string;
  epoch: number;
  holder: string;
  /** The supervised process that held it (found by the pid in the holder id), if it was seen. */
  process?: string;
  acquiredAt: number;
  /** The latest expiry seen: the term ends there at the latest. */
  expiresAt: number;
}

/** A relay's default instance id is `<host>:<pid>:<random>`. */
const pidOfHolder = (holder: string): number | undefined => {
  const parts = holder.split(':');
  const pid = Number(parts[parts.length - 2]);
  return Number.isInteger(pid) ? pid : undefined;
};

/**
 * Samples relay_leases every `intervalMs` until stopped, keeping each (lane, epoch) seen. `processOf`
 * names the supervised process with a pid (the supervisor knows).
 */
export function watchLeases(db: Knex, processOf: (pid: number) => string | undefined, intervalMs = 100) {
  const terms = new Map<string, LeaseTerm>();
  let running = true;
  let failedSamples = 0;
  const loop = (async () => {
    while (running) {
      try {
        const { rows } = await db.raw<{ rows: { lane: string; holder: string; epoch: string; acquired_ms: number; expires_ms: number }[] }>(
          `SELECT lane, holder, epoch::text AS epoch,
                  (extract(epoch FROM acquired_at) * 1000)::float8 AS acquired_ms,
                  (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
             FROM relay_leases`,
        );
        for (const row of rows) {
          const key = `${row.lane}#${row.epoch}`;
          const term = terms.get(key) ?? { lane: row.lane, epoch: Number(row.epoch), holder: row.holder, acquiredAt: row.acquired_ms, expiresAt: row.expires_ms };
          term.expiresAt = Math.max(term.expiresAt, row.expires_ms);
          const pid = pidOfHolder(row.holder);
          term.process ??= pid === undefined ? undefined : processOf(pid);
          terms.set(key, term);
        }
      } catch {
        failedSamples++;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    /** The lanes that someone holds now: the process holding each (if known) and its term's epoch. */
    leaders(now = Date.now()): Map<string, { process: string | undefined; epoch: number }> {
      const current = new Map<string, LeaseTerm>();
      for (const term of terms.values()) if (term.expiresAt > now && (current.get(term.lane)?.epoch ?? -1) < term.epoch) current.set(term.lane, term);
      return new Map([...current].map(([lane, term]) => [lane, { process: term.process, epoch: term.epoch }]));
    },
    /** The highest epoch seen for the lane, or -1 before any. */
    latestEpoch(lane: string): number {
      return Math.max(-1, ...[...terms.values()].filter((t) => t.lane === lane).map((t) => t.epoch));
    },
    async stop(): Promise<{ terms: LeaseTerm[]; failedSamples: number }> {
      running = false;
      await loop;
      return { terms: [...terms.values()].sort((a, b) => a.lane.localeCompare(b.lane) || a.epoch - b.epoch), failedSamples };
    },
  };
}

export interface LeaderlessGap {
  lane: string;
  /** The epoch that ended and the one that followed. */
  fromEpoch: number;
  toEpoch: number;
  /** Why the earlier term ended: its process exited, or its lease ran out with its process alive. */
  ended: 'exit' | 'expiry';
  ms: number;
}

/**
 * Between each two consecutive terms of a lane: from the moment the earlier term ended (its process
 * exited, or its lease expired, whichever came first) until the next was acquired.
 */
export function leaderlessGaps(terms: readonly LeaseTerm[], exits: readonly { name: string; at: number }[]): LeaderlessGap[] {
  const gaps: LeaderlessGap[] = [];
  const lanes = [...new Set(terms.map((t) => t.lane))];
  for (const lane of lanes) {
    const ofLane = terms.filter((t) => t.lane === lane).sort((a, b) => a.epoch - b.epoch);
    for (let i = 1; i < ofLane.length; i++) {
      const before = ofLane[i - 1]!;
      const after = ofLane[i]!;
      const exit = exits.find((e) => e.name === before.process && e.at >= before.acquiredAt)?.at;
      const endedByExit = exit !== undefined && exit < before.expiresAt;
      const end = endedByExit ? exit : before.expiresAt;
      gaps.push({ lane, fromEpoch: before.epoch, toEpoch: after.epoch, ended: endedByExit ? 'exit' : 'expiry', ms: Math.max(0, Math.round(after.acquiredAt - end)) });
    }
  }
  return gaps;
}

/**
 * A durable queue bound to every event on the exchange, declared before the run: it keeps each copy
 * RabbitMQ routed, across the broker's restart, until drained at the end.
 */
export async function declareRabbitTap(rabbitUrl: string, queue: string): Promise<{ drain(): Promise<ReceivedCopy[]> }> {
  const connect = async () => {
    const connection = await amqp.connect(rabbitUrl);
    return { connection, channel: await connection.createChannel() };
  };
  const { connection, channel } = await connect();
  try {
    await declareEventTopology(channel);
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(queue, EVENTS_EXCHANGE, '#');
  } finally {
    await connection.close();
  }
  return {
    async drain() {
      const { connection, channel } = await connect();
      try {
        const copies: ReceivedCopy[] = [];
        for (let message = await channel.get(queue, { noAck: true }); message !== false; message = await channel.get(queue, { noAck: true })) {
          const publishedBy: unknown = message.properties.headers?.[ENVELOPE_HEADERS.publishedBy];
          copies.push({ eventId: parseEnvelope(message.content).eventId, publishedBy: typeof publishedBy === 'string' ? publishedBy : 'unknown' });
        }
        return copies;
      } finally {
        await connection.close();
      }
    },
  };
}

/** Every copy the topic holds, read from its beginning until no more come. */
export async function kafkaTopicCopies(topic: string, expectedAtLeast: number, timeoutMs = 60_000): Promise<ReceivedCopy[]> {
  const tap = await openKafkaTap(topic, { fromBeginning: true });
  try {
    const deadline = Date.now() + timeoutMs;
    // The whole topic is there already: read until the count stops growing past what must be there.
    let seen = -1;
    while (tap.messages.length < expectedAtLeast || tap.messages.length !== seen) {
      if (Date.now() > deadline) throw new Error(`read ${tap.messages.length} of at least ${expectedAtLeast} messages from ${topic}`);
      seen = tap.messages.length;
      await sleep(1000);
    }
    return tap.messages.map((m) => ({ eventId: m.envelope.eventId, publishedBy: m.headers[ENVELOPE_HEADERS.publishedBy] ?? 'unknown' }));
  } finally {
    await tap.close();
  }
}

/** One message a broker received: the event, and the publishing path its `published-by` header names. */
export interface ReceivedCopy {
  eventId: string;
  publishedBy: string;
}

export interface CopyCounts {
  /** Messages received, and distinct events among them. */
  messages: number;
  events: number;
  duplicates: number;
  /** The most copies one event had. */
  maxCopies: number;
  /** How many events had n copies, by n. */
  histogram: Record<number, number>;
}

export function copyCounts(received: readonly ReceivedCopy[]): CopyCounts {
  const counts = new Map<string, number>();
  for (const { eventId } of received) counts.set(eventId, (counts.get(eventId) ?? 0) + 1);
  const histogram: Record<number, number> = {};
  for (const n of counts.values()) histogram[n] = (histogram[n] ?? 0) + 1;
  return { messages: received.length, events: counts.size, duplicates: received.length - counts.size, maxCopies: Math.max(0, ...counts.values()), histogram };
}

/**
 * What a broker received, split by path: every copy, the relays' copies, the workflows' own
 * publishing's copies (fast path and publishing activity), and the events of the log never received.
 */
export function brokerCopies(received: readonly ReceivedCopy[], logEventIds: readonly string[]) {
  const ids = new Set(received.map((c) => c.eventId));
  const relay = received.filter((c) => c.publishedBy.startsWith('relay:'));
  return {
    all: copyCounts(received),
    relay: copyCounts(relay),
    /** The most copies one relay instance sent of one event. */
    maxCopiesPerRelayInstance: copyCounts(relay.map((c) => ({ eventId: `${c.eventId}@${c.publishedBy}`, publishedBy: c.publishedBy }))).maxCopies,
    relayInstances: new Set(relay.map((c) => c.publishedBy)).size,
    workflowPath: copyCounts(received.filter((c) => !c.publishedBy.startsWith('relay:'))),
    unlabelled: received.filter((c) => c.publishedBy === 'unknown').length,
    missing: logEventIds.filter((id) => !ids.has(id)).length,
  };
}
