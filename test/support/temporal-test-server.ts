import { execFileSync } from 'node:child_process';
import path from 'node:path';

const SCRIPT = path.resolve(__dirname, '..', '..', 'stack', 'services', 'temporal-test-server.sh');

let launcher: string | undefined;

/**
 * The launcher of the Java SDK's time-skipping test server, provisioned on first use: the same
 * idempotent step `stack/up.sh` runs (Maven resolves the jars into the artifact cache), so
 * `npx jest test/workflow` works on a machine where the stack was never brought up. Throws with
 * the script's output (and the Maven log's tail) when provisioning fails: tests never skip.
 */
export function temporalTestServerLauncher(): string {
  if (launcher) return launcher;
  try {
    execFileSync('bash', [SCRIPT, 'up'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 });
  } catch (err) {
    const output = (err as { stderr?: Buffer; stdout?: Buffer }) ?? {};
    const text = `${output.stdout?.toString() ?? ''}${output.stderr?.toString() ?? ''}`.trim();
    throw new Error(`Could not provision the Temporal test server (bash ${SCRIPT} up):\n${text || String(err)}`);
  }
  launcher = execFileSync('bash', [SCRIPT, 'path']).toString().trim();
  return launcher;
}
