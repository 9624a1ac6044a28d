import path from 'node:path';
import type { Knex } from 'knex';

const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/** Brings the schema to the newest migration; safe to run concurrently and repeatedly (knex locks). */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({
    directory: MIGRATIONS_DIR,
    loadExtensions: ['.ts', '.js'],
    // Clones of different revisions share one local database (CI runs beside a developer's stack):
    // a migration applied by a newer checkout must not make an older one refuse to start.
    disableMigrationsListValidation: true,
  })) as [number, string[]];
  return applied;
}
