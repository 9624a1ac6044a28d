import type { Knex } from 'knex';
import { START_OF_LOG, type GlobalCheckpoint } from './types';

/** Reads a subscriber's checkpoint; the start of the log when it has none yet. */
export async function loadCheckpoint(db: Knex | Knex.Transaction, subscriptionId: string): Promise<GlobalCheckpoint> {
  const row = await db('subscription_checkpoints')
    .where('subscription_id', subscriptionId)
    .first<{ transaction_id: string; global_position: string } | undefined>(
      db.raw('transaction_id::text AS transaction_id'),
      'global_position',
    );
  return row ? { transactionId: BigInt(row.transaction_id), globalPosition: BigInt(row.global_position) } : START_OF_LOG;
}

/** Stores a checkpoint; call it inside the transaction that did the work up to that checkpoint. */
export async function saveCheckpoint(
  db: Knex | Knex.Transaction,
  subscriptionId: string,
  checkpoint: GlobalCheckpoint,
): Promise<void> {
  await db.raw(
    `INSERT INTO subscription_checkpoints (subscription_id, transaction_id, global_position)
     VALUES (?, ?::xid8, ?)
     ON CONFLICT (subscription_id) DO UPDATE
       SET transaction_id = excluded.transaction_id, global_position = excluded.global_position, updated_at = now()`,
    [subscriptionId, checkpoint.transactionId.toString(), checkpoint.globalPosition.toString()],
  );
}
