/**
 * Runs every process of the system under one supervisor: prefixed logs, restarts on crash, and a
 * graceful stop on SIGINT/SIGTERM. The stack itself is brought up by stack/up.sh before this runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { config } from '../config';
import { WORKER_ROLES } from '../workers/temporal-workers';

interface ProcessSpec {
  name: string;
  entrypoint: string;
  args: string[];
}

/** Each long-running process of the system: a Temporal worker per task queue, and so on. */
export const PROCESSES: ProcessSpec[] = WORKER_ROLES.map((role) => ({
  name: `worker-${role}`,
  entrypoint: 'workers/order-worker.ts',
  args: [role],
}));

const REPO_DIR = path.resolve(__dirname, '..');
const children = new Map<string, ChildProcess>();
let stopping = false;

function prefixLines(name: string, stream: NodeJS.ReadableStream | null, out: NodeJS.WritableStream): void {
  if (!stream) return;
  readline.createInterface({ input: stream }).on('line', (line) => out.write(`[${name}] ${line}\n`));
}

function run(spec: ProcessSpec): void {
  // node with tsx as a loader (not the tsx wrapper): signals then reach the process itself.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, spec.entrypoint), ...spec.args], {
    cwd: REPO_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(spec.name, child);
  prefixLines(spec.name, child.stdout, process.stdout);
  prefixLines(spec.name, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    children.delete(spec.name);
    if (stopping) return;
    console.error(`[supervisor] ${spec.name} exited (code ${code}, signal ${signal}); restarting in 1 s`);
    setTimeout(() => run(spec), 1000);
  });
}

function printWhereToLook(): void {
  const env = config();
  console.log(`
Orders-on-Temporal is running.
  Temporal Web UI     ${env.TEMPORAL_UI_URL}
  RabbitMQ management http://127.0.0.1:15672 (guest/guest)
  Stack health        npm run stack:status
`);
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  console.error('[supervisor] stopping');
  for (const child of children.values()) child.kill('SIGTERM');
  const check = setInterval(() => {
    if (children.size === 0) {
      clearInterval(check);
      process.exit(0);
    }
  }, 100);
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const spec of PROCESSES) run(spec);
printWhereToLook();
if (PROCESSES.length === 0) process.exit(0);
