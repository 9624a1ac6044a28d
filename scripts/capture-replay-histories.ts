/**
 * Captures the histories of the saga's representative runs into test/replay/<scenario>.json, for the
 * replay test that guards the workflow's determinism. Run it against the running stack:
 *   npm run replay:capture
 *   npm run replay:capture -- --version <name>   into test/replay/<name>/ instead
 * Re-capture only on purpose: the committed histories stand for workflows already running in
 * production, which every later version of the workflow must still replay. A change to the workflow
 * adds a version folder beside the older histories rather than replacing them.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createKnex } from '../infra';
import { migrateToLatest } from '../infra/migrate';
import { runWorkers } from '../test/support/temporal';
import { temporalBinary } from '../test/support/stack';
import { config } from '../config';
import { SCENARIOS, runScenario } from '../test/support/saga-scenarios';

const REPLAY_DIR = path.resolve(__dirname, '..', 'test', 'replay');

function outputDirectory(args: readonly string[]): string {
  const index = args.indexOf('--version');
  if (index < 0) return REPLAY_DIR;
  const version = args[index + 1];
  if (!version || !/^[a-z0-9-]+$/.test(version)) throw new Error('--version takes a name of lowercase letters, digits and dashes');
  return path.join(REPLAY_DIR, version);
}

async function main(): Promise<void> {
  const OUT_DIR = outputDirectory(process.argv.slice(2));
  const db = createKnex({ applicationName: 'capture-replay' });
  await migrateToLatest(db);
  // A slow capture leaves time to cancel the order while its payment is in flight.
  const workers = await runWorkers(db, undefined, { paymentOptions: { captureDelayMs: 1500 } });
  await mkdir(OUT_DIR, { recursive: true });
  try {
    for (const scenario of SCENARIOS) {
      const handle = await runScenario(scenario, workers.client, db);
      // Exported by the temporal CLI, as an operator would export a production history.
      const exported = execFileSync(temporalBinary(), [
        'workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json',
        '--address', config().TEMPORAL_ADDRESS, '--namespace', config().TEMPORAL_NAMESPACE,
      ], { maxBuffer: 64 * 1024 * 1024 }).toString();
      const history = JSON.parse(exported) as { events: unknown[] };
      const file = path.join(OUT_DIR, `${scenario}.json`);
      await writeFile(file, `${JSON.stringify({ workflowId: handle.workflowId, history }, null, 1)}\n`);
      console.log(`captured ${scenario}: ${handle.workflowId} (${history.events.length} events) -> ${path.relative(process.cwd(), file)}`);
    }
  } finally {
    await workers.stop();
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
