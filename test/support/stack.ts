import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const REPO_DIR = path.resolve(__dirname, '..', '..');

export type ServiceName = 'postgres' | 'rabbitmq' | 'kafka' | 'temporal' | 'jaeger';

/** Where the native stack writes its logs (as stack/lib.sh decides). */
export function stackLogDir(): string {
  const out = execFileSync('bash', ['-c', 'source stack/lib.sh && echo "$LOG_DIR"'], { cwd: REPO_DIR });
  return out.toString().trim();
}

function logTail(service: ServiceName, lines = 30): string {
  const file = path.join(stackLogDir(), `${service}.log`);
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/**
 * Fails loudly, with the reason and the tail of the service's log, when a server the tests need is
 * down. Tests never skip for a missing service.
 */
export function requireService(service: ServiceName): void {
  try {
    execFileSync('bash', [path.join(REPO_DIR, 'stack', 'services', `${service}.sh`), 'status'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      `${service} is not running or not healthy. Start the stack with "npm run stack:up".\n` +
        `Last lines of its log:\n${logTail(service)}`,
    );
  }
}

/** The path of the temporal CLI binary the stack built. */
export function temporalBinary(): string {
  return execFileSync('bash', [path.join(REPO_DIR, 'stack', 'services', 'temporal.sh'), 'bin']).toString().trim();
}

/** Starts or stops a broker through the stack's own scripts (which wait until it is healthy or down). */
export async function stackService(service: Extract<ServiceName, 'rabbitmq' | 'kafka'>, action: 'up' | 'down'): Promise<void> {
  const script = path.join(REPO_DIR, 'stack', 'services', `${service}.sh`);
  // While this process has the broker down, a marker file says so. Should the process die before
  // starting it again, a detached guard sees the marker and starts the broker.
  const marker = path.join(os.tmpdir(), `orders-broker-down-${service}-${process.pid}`);
  if (action === 'down') {
    writeFileSync(marker, '');
    const guard = `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; [ -f "${marker}" ] && rm -f "${marker}" && bash "${script}" up`;
    spawn('bash', ['-c', guard], { cwd: REPO_DIR, detached: true, stdio: 'ignore' }).unref();
  }
  await promisify(execFile)('bash', [script, action], { cwd: REPO_DIR, timeout: 180_000 });
  if (action === 'up') rmSync(marker, { force: true });
}

export { REPO_DIR };
