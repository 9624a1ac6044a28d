import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';

const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/**
 * The migrations beside this file: the TypeScript sources, or their compiled .js in dist/ (the Docker
 * image). Either is recorded under its source name (`<name>.ts`), so a database keeps one migration
 * history whichever of the two migrated it.
 */
const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    const files = await readdir(MIGRATIONS_DIR);
    return files.filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts')).sort();
  },
  getMigrationName: (file) => file.replace(/\.js$/, '.ts'),
  getMigration: async (file) => (await import(path.join(MIGRATIONS_DIR, file))) as Knex.Migration,
};

/** Brings the schema to the newest migration; safe to run concurrently and repeatedly (knex locks). */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({
    migrationSource,
    // Clones of different revisions share one local database (CI runs beside a developer's stack):
    // a migration applied by a newer checkout must not make an older one refuse to start.
    disableMigrationsListValidation: true,
  })) as [number, string[]];
  return applied;
}
