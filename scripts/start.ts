/**
 * Runs every process of the system under one supervisor: prefixed logs, restarts on crash, and a
 * graceful stop on SIGINT/SIGTERM. The stack itself is brought up by stack/up.sh before this runs.
 */
import { config } from '../config';
import { createKnex } from '../infra';
import { createApiKey } from '../api/api-keys';
import { DEMO_IDS } from '../activities/catalog-seed';
import { CODEC_SERVER_PROCESS, SYSTEM_PROCESSES, Supervisor, replicaPorts, replicate } from '../workers/supervisor';
import { ensureDevelopmentCodecKeys } from '../infra/codec/dev-keys';
import { withWorkflowBundle } from '../workers/workflow-bundle';
import { readStackEnv } from '../stack/environments';

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

/** Jaeger's UI, from the stack's port (stack/stack.env). */
function jaegerUiUrl(): string {
  return `http://127.0.0.1:${readStackEnv().JAEGER_UI_PORT ?? '16686'}`;
}

function printWhereToLook(tokens: { operator: string; customer: string }, codecKeyFile: string | undefined): void {
  const env = config();
  const codec = `http://${env.CODEC_SERVER_HOST}:${env.CODEC_SERVER_PORT}`;
  const api = `http://${env.API_HOST}:${env.API_PORT}`;
  const more = Array.from({ length: env.REPLICAS - 1 }, (_, i) => `http://${env.API_HOST}:${replicaPorts(env, i + 2).API_PORT}`);
  console.log(`
Orders-on-Temporal is running${env.REPLICAS > 1 ? ` (${env.REPLICAS} instances of every process; one relay leads each lane)` : ''}.
  API docs            ${api}/docs   (OpenAPI: ${api}/openapi.json)${more.map((url) => `\n  API instance        ${url}`).join('')}
  Temporal Web UI     ${env.TEMPORAL_UI_URL}   (payloads decoded through the codec server)
  Jaeger (traces)     ${jaegerUiUrl()}   (service orders-api, tag order.id=<orderId>)
  Codec server        ${codec}   (keys: ${codecKeyFile ?? 'CODEC_KEYS'})
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
  npm run temporal -- workflow query --workflow-id order-<orderId> --name getSagaProgress --codec-endpoint ${codec} --codec-auth "Bearer ${tokens.operator}"
  npm run temporal -- workflow show --workflow-id order-<orderId> --codec-endpoint ${codec} --codec-auth "Bearer ${tokens.operator}"
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
  // Payloads encrypted in local dev: a key file made once in the stack's state folder (unless keys are configured).
  const codecKeyFile = ensureDevelopmentCodecKeys(process.env);
  const env = await withWorkflowBundle();
  supervisor = new Supervisor({
    env,
    onExit: (name, code, signal) => console.error(`[supervisor] ${name} exited (code ${code}, signal ${signal}); restarting in 1 s`),
  });
  // One codec server: the Web UI and the CLI reach it on its fixed port.
  supervisor.start([...replicate(SYSTEM_PROCESSES, config().REPLICAS, config()), CODEC_SERVER_PROCESS]);
  printWhereToLook(tokens, codecKeyFile);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
