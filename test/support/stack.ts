import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const REPO_DIR = path.resolve(__dirname, '..', '..');

export type ServiceName = 'postgres' | 'rabbitmq' | 'kafka' | 'temporal';

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

export { REPO_DIR };
