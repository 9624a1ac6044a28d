/**
 * Runs every process of the system under one supervisor: prefixed logs, restarts on crash, and a
 * graceful stop on SIGINT/SIGTERM. The stack itself is brought up by stack/up.sh before this runs.
 */
import { config } from '../config';
import { createKnex } from '../infra';
import { createApiKey } from '../api/api-keys';
import { DEMO_IDS } from '../activities/catalog-seed';
import { SYSTEM_PROCESSES, Supervisor, replicaPorts, replicate } from '../workers/supervisor';
import { withWorkflowBundle } from '../workers/workflow-bundle';

let supervisor: Supervisor | undefined;

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
  const more = Array.from({ length: env.REPLICAS - 1 }, (_, i) => `http://${env.API_HOST}:${replicaPorts(env, i + 2).API_PORT}`);
  console.log(`
Orders-on-Temporal is running${env.REPLICAS > 1 ? ` (${env.REPLICAS} instances of every process; one relay leads each lane)` : ''}.
  API docs            ${api}/docs   (OpenAPI: ${api}/openapi.json)${more.map((url) => `\n  API instance        ${url}`).join('')}
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
  npm run temporal -- workflow query --workflow-id order-<orderId> --name getSagaProgress
`);
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  console.error('[supervisor] stopping');
  void (supervisor?.stop() ?? Promise.resolve()).then(() => process.exit(0));
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
async function main(): Promise<void> {
  const tokens = await mintDevelopmentTokens();
  // Bundled once here, so that an order worker (re)starts in a second.
  const env = await withWorkflowBundle();
  supervisor = new Supervisor({
    env,
    onExit: (name, code, signal) => console.error(`[supervisor] ${name} exited (code ${code}, signal ${signal}); restarting in 1 s`),
  });
  supervisor.start(replicate(SYSTEM_PROCESSES, config().REPLICAS, config()));
  printWhereToLook(tokens);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
