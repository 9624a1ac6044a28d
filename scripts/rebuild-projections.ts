/**
 * npm run projections:rebuild -- <projection>... | all   [--batch-size=N]
 *
 * Rebuilds read models from the event store without downtime: new tables are filled from the log while
 * the live projectors keep serving the old ones, then swapped in atomically (see projections/engine/rebuild.ts).
 * The projections named are rebuilt together, in one pass over the log. Safe to run while the system
 * runs; a second rebuild of the same projection is refused.
 */
import { createOrderEventStore } from '../composition/store';
import { createLogger } from '../infra/logger';
import { migrateToLatest } from '../infra/migrate';
import { createKnex } from '../infra/postgres';
import { PROJECTION_NAMES, isProjectionName, rebuildProjections, type ProjectionName } from '../projections';

const USAGE = `usage: npm run projections:rebuild -- <${PROJECTION_NAMES.join('|')}>... | all [--batch-size=N]`;

function parseArgs(args: readonly string[]): { names: ProjectionName[]; batchSize?: number } {
  const names = new Set<ProjectionName>();
  let batchSize: number | undefined;
  for (const arg of args) {
    const size = /^--batch-size=(\d+)$/.exec(arg);
    if (size) batchSize = Number(size[1]);
    else if (arg === 'all') PROJECTION_NAMES.forEach((name) => names.add(name));
    else if (isProjectionName(arg)) names.add(arg);
    else throw new Error(`unknown argument "${arg}"\n${USAGE}`);
  }
  if (names.size === 0) throw new Error(USAGE);
  if (batchSize !== undefined && batchSize < 1) throw new Error('--batch-size must be at least 1');
  return { names: [...names], batchSize };
}

async function main(): Promise<void> {
  const { names, batchSize } = parseArgs(process.argv.slice(2));
  const logger = createLogger('projections-rebuild');
  // The rebuild's locks, its reads (one ahead) and its writes (one flush in the background) each hold a connection.
  const db = createKnex({ poolMax: 4, applicationName: 'projections-rebuild' });
  try {
    await migrateToLatest(db);
    const store = createOrderEventStore(db);
    await rebuildProjections({ db, store, logger }, names, { batchSize });
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
