import type { Knex } from 'knex';
import { createKnex } from '../../infra';
import { migrateToLatest } from '../../infra/migrate';
import { requireService } from './stack';

/** A pool on the real test database, migrated to the newest schema. */
export async function openTestDatabase(poolMax = 25): Promise<Knex> {
  requireService('postgres');
  const db = createKnex({ poolMax, applicationName: 'jest' });
  await migrateToLatest(db);
  return db;
}
