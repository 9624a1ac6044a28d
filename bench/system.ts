/**
 * The system as `npm start` runs it (separate processes: a worker per task queue, the relay, the
 * projectors, the API), in a benchmark's isolated environment.
 */
import { SYSTEM_PROCESSES, Supervisor } from '../workers/supervisor';
import { withWorkflowBundle } from '../workers/workflow-bundle';
import type { IsolatedEnvironment } from '../test/support/isolated-environment';

/** Resolves once the API answers ready; a process that dies meanwhile is restarted by the supervisor. */
export async function waitForReady(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await fetch(`${url}/health/ready`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`the API at ${url} was not ready within 120 s (last answer ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Starts every process of the system in `environment` (with `env` on top, e.g. tracing on or off) and
 * resolves once its API is ready. The processes share one freshly bundled workflow; BENCH_VERBOSE=1
 * shows their log lines.
 */
export async function startSystem(environment: IsolatedEnvironment, env: NodeJS.ProcessEnv = {}): Promise<Supervisor> {
  const supervisor = new Supervisor({
    env: await withWorkflowBundle({ ...process.env, ...environment.env, LOG_LEVEL: 'warn', ...env, WORKFLOW_BUNDLE_PATH: '' }),
    onLine: (name, line) => {
      if (process.env.BENCH_VERBOSE) console.error(`[${name}] ${line}`);
    },
  });
  supervisor.start(SYSTEM_PROCESSES);
  try {
    await waitForReady(environment.apiUrl);
  } catch (err) {
    await supervisor.stop();
    throw err;
  }
  return supervisor;
}
