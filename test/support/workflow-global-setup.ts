import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { temporalTestServerLauncher } from './temporal-test-server';
import { WORKFLOWS_PATH } from './workflow-paths';

/** Set for the test files of one jest run: the bundled workflow code and the test server's launcher. */
export const WORKFLOW_BUNDLE_ENV = 'ORDERS_TEST_WORKFLOW_BUNDLE';
export const TEST_SERVER_LAUNCHER_ENV = 'ORDERS_TEST_SERVER_LAUNCHER';

/**
 * The workflow project's global setup: provisions the time-skipping test server (failing the run
 * with the reason if it cannot) and bundles the workflow code once for every test file of the run,
 * instead of once per file (webpack takes seconds).
 */
export default async function workflowGlobalSetup(): Promise<void> {
  process.env[TEST_SERVER_LAUNCHER_ENV] = temporalTestServerLauncher();
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orders-workflow-bundle-'));
  const file = path.join(dir, 'workflow-bundle.js');
  writeFileSync(file, code);
  process.env[WORKFLOW_BUNDLE_ENV] = file;
}

/** The matching global teardown. */
export function removeWorkflowBundle(): void {
  const file = process.env[WORKFLOW_BUNDLE_ENV];
  if (file) rmSync(path.dirname(file), { recursive: true, force: true });
}
