/**
 * The order workflow's code, bundled once for every order worker that a supervisor starts. Bundling
 * (webpack) takes seconds of CPU; an order worker that bundled at every start spent most of a chaos
 * run's restart cycle doing it, and updates waited for a worker that was never up for long.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './temporal-workers';
import { workflowInterceptorModules } from '../infra/temporal-tracing';

/** Bundles the workflow code for processes with `env` into a file of its own and returns its path. */
export async function writeWorkflowBundle(dir = mkdtempSync(path.join(os.tmpdir(), 'orders-workflow-bundle-')), env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  // With tracing on, the bundle carries the tracing interceptors (a worker cannot add them to a prebuilt bundle).
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: workflowInterceptorModules(env), logger: quiet });
  const file = path.join(dir, 'workflow-bundle.js');
  writeFileSync(file, code);
  return file;
}

/** The environment with WORKFLOW_BUNDLE_PATH pointing at a fresh bundle, unless the caller gave one. */
export async function withWorkflowBundle(env: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  if (env.WORKFLOW_BUNDLE_PATH) return env;
  return { ...env, WORKFLOW_BUNDLE_PATH: await writeWorkflowBundle(undefined, env) };
}
