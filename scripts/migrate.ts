/**
 * `npm run migrate`: brings the database at DATABASE_URL to the newest migration (infra/migrate.ts).
 * Safe to run again and beside running processes (knex takes its migration lock). `npm run stack:up`
 * migrates the local stack's databases itself; this is for a database of your own, e.g.
 * `DATABASE_URL=postgres://... npm run migrate`.
 */
import { config } from '../config';
import { createKnex } from '../infra';
import { migrateToLatest } from '../infra/migrate';

/** The URL without its password, fit for printing. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function main(): Promise<void> {
  if (process.argv.length > 2) throw new Error(`unknown arguments: ${process.argv.slice(2).join(' ')} (set DATABASE_URL to choose the database)`);
  const url = config().DATABASE_URL;
  const db = createKnex({ poolMax: 1, applicationName: 'migrate' });
  try {
    const applied = await migrateToLatest(db);
    console.log(
      applied.length > 0
        ? `${withoutPassword(url)}: applied ${applied.length} migration(s): ${applied.join(', ')}`
        : `${withoutPassword(url)}: already at the newest migration`,
    );
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error('migration failed:', err);
  process.exit(1);
});
