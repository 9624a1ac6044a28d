import type { Knex } from 'knex';
import { pruneBatch } from '../infra/retention';
import type { BatchDelivery } from './handler';

export type ProcessOutcome<T> = { applied: true; result: T } | { applied: false };

/**
 * Runs a handler at most once per (consumer, event id): in one Postgres transaction it first claims
 * the event in processed_messages, then runs the handler with that transaction, so the claim and the
 * handler's effects commit or roll back together. A delivery whose claim already exists is a
 * duplicate and the handler is skipped. Two deliveries racing each other serialise on the claim's
 * primary key: the second waits for the first to commit (then skips) or roll back (then runs).
 */
export async function processOnce<T>(
  db: Knex,
  consumerName: string,
  eventId: string,
  handler: (trx: Knex.Transaction) => Promise<T>,
): Promise<ProcessOutcome<T>> {
  return db.transaction(async (trx) => {
    const { rowCount } = await trx.raw<{ rowCount: number | null }>(
      'INSERT INTO processed_messages (consumer_name, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
      [consumerName, eventId],
    );
    if (rowCount === 0) return { applied: false } as const;
    return { applied: true, result: await handler(trx) } as const;
  });
}

/**
 * processOnce for a batch: one transaction claims every event id of the batch (sorted, so batches that
 * overlap take their row locks in one order) and runs the handler with the ids it claimed (those not
 * processed before). Claims and effects commit or roll back together.
 */
export async function processBatchOnce<T>(
  db: Knex,
  consumerName: string,
  eventIds: readonly string[],
  handler: (trx: Knex.Transaction, claimed: ReadonlySet<string>) => Promise<T>,
): Promise<{ claimed: ReadonlySet<string>; result: T }> {
  const ids = [...new Set(eventIds)].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: { event_id: string }[] }>(
      `INSERT INTO processed_messages (consumer_name, event_id)
       SELECT ?, id FROM unnest(?::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n
       ON CONFLICT DO NOTHING RETURNING event_id::text`,
      [consumerName, ids],
    );
    // uuid text comes back in lower case: map it back to the ids as given.
    const returned = new Set(rows.map((r) => r.event_id));
    const claimed = new Set(ids.filter((id) => returned.has(id.toLowerCase())));
    return { claimed, result: await handler(trx, claimed) };
  });
}

/**
 * A batch of deliveries applied once each in one transaction: `run` gets the deliveries whose event was
 * not processed before, each event once (its first delivery), in arrival order. Returns each delivery's
 * outcome, in the order given; throws (and nothing commits) if `run` or the claim fails.
 */
export async function processDeliveriesOnce(
  db: Knex,
  consumerName: string,
  deliveries: readonly BatchDelivery[],
  run: (trx: Knex.Transaction, fresh: readonly BatchDelivery[]) => Promise<void>,
): Promise<('processed' | 'duplicate')[]> {
  const firsts = new Set<BatchDelivery>();
  const seen = new Set<string>();
  for (const delivery of deliveries) {
    const id = delivery.envelope.eventId.toLowerCase();
    if (!seen.has(id)) firsts.add(delivery);
    seen.add(id);
  }
  let fresh: BatchDelivery[] = [];
  await processBatchOnce(db, consumerName, [...firsts].map((d) => d.envelope.eventId), async (trx, claimed) => {
    fresh = [...firsts].filter((d) => claimed.has(d.envelope.eventId));
    await run(trx, fresh);
  });
  const processed = new Set(fresh);
  return deliveries.map((d) => (processed.has(d) ? 'processed' : 'duplicate'));
}

/**
 * Forgets one batch of a consumer's claims older than the given age (see workers/projector.ts, which
 * runs it periodically). Only safe beyond the longest a redelivery can take, or where a redelivered
 * event is harmless anyway (a projector's read models skip versions they applied).
 */
export async function pruneProcessedMessages(
  db: Knex,
  options: { consumerName: string; olderThanMs: number; batchSize?: number },
): Promise<number> {
  return pruneBatch(db, {
    table: 'processed_messages',
    timestampColumn: 'processed_at',
    olderThanMs: options.olderThanMs,
    batchSize: options.batchSize,
    where: { consumer_name: options.consumerName },
  });
}
