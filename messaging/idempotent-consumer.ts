import type { Knex } from 'knex';
import { pruneBatch } from '../infra/retention';

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
