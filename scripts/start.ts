/**
 * Runs every process of the system under one supervisor: prefixed logs, restarts on crash, and a
 * graceful stop on SIGINT/SIGTERM. The stack itself is brought up by stack/up.sh before this runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { config } from '../config';
import { createKnex } from '../infra';
import { createApiKey } from '../api/api-keys';
import { DEMO_IDS } from '../activities/catalog-seed';
import { WORKER_ROLES } from '../workers/temporal-workers';

interface ProcessSpec {
  name: string;
  entrypoint: string;
  args: string[];
}

/** Each long-running process of the system: a Temporal worker per task queue, and so on. */
export const PROCESSES: ProcessSpec[] = [
  ...WORKER_ROLES.map((role) => ({ name: `worker-${role}`, entrypoint: 'workers/order-worker.ts', args: [role] })),
  { name: 'relay', entrypoint: 'workers/relay.ts', args: [] },
  { name: 'order-projector', entrypoint: 'workers/projector.ts', args: ['order'] },
  { name: 'analytics-projector', entrypoint: 'workers/projector.ts', args: ['analytics'] },
  { name: 'api', entrypoint: 'api/main.ts', args: [] },
];

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

/** Development keys, minted at every start (only their hashes are stored, so old ones cannot be shown). */
async function mintDevelopmentTokens(): Promise<{ operator: string; customer: string }> {
  const db = createKnex({ poolMax: 1, applicationName: 'start' });
  try {
    const operator = await createApiKey(db, { role: 'operator', label: 'development (npm start)' });
    const customer = await createApiKey(db, { role: 'customer', customerId: DEMO_IDS.customers.approves, label: 'development (npm start)' });
    return { operator: operator.token, customer: customer.token };
  } finally {
    await db.destroy();
  }
}

function printWhereToLook(tokens: { operator: string; customer: string }): void {
  const env = config();
  const api = `http://${env.API_HOST}:${env.API_PORT}`;
  console.log(`
Orders-on-Temporal is running.
  API docs            ${api}/docs   (OpenAPI: ${api}/openapi.json)
  Temporal Web UI     ${env.TEMPORAL_UI_URL}
  RabbitMQ management http://127.0.0.1:15672 (guest/guest)
  Stack health        npm run stack:status

Development tokens (new at every start):
  operator            ${tokens.operator}
  customer            ${tokens.customer}   (${DEMO_IDS.customers.approves})

Try:
  TOKEN=${tokens.customer}
  curl -s -X POST ${api}/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}'
  curl -s -X POST ${api}/orders/<orderId>/items -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"sku":"KB-ERGO-01","quantity":1}'
  curl -s -X POST ${api}/orders/<orderId>/submit -H "authorization: Bearer $TOKEN"
  curl -s ${api}/orders/<orderId> -H "authorization: Bearer $TOKEN"
  temporal workflow query --workflow-id order-<orderId> --name getSagaProgress
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
async function main(): Promise<void> {
  const tokens = await mintDevelopmentTokens();
  for (const spec of PROCESSES) run(spec);
  printWhereToLook(tokens);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
