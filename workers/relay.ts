/**
 * The outbox relay process: follows the event log and publishes every committed event to RabbitMQ and
 * Kafka (messaging/relay/outbox-relay.ts), one lane per broker. SIGTERM/SIGINT stop it after the batches in flight.
 *
 *   npm run relay                             run the relay, both lanes in this process
 *   npm run relay -- --broker rabbitmq|kafka  run one lane only: one process per broker puts each
 *                                             lane's client-side encoding on its own core
 *   npm run relay -- --status                 print relay lag, queue depths and consumer-group lag
 *                                             as JSON, and exit
 * The relay serves /health/live, /health/ready and /metrics (per lane: published, lag in events and
 * seconds, consecutive failures) on RELAY_METRICS_PORT.
 * Any number of relay processes may run: each lane is led by the one holding its lease in relay_leases
 * (messaging/relay-lease.ts); the others stand by and take over within about RELAY_LEASE_TTL_MS +
 * RELAY_LEASE_RENEW_INTERVAL_MS of the leader's death, from its saved checkpoint. A graceful stop
 * releases the leases at once. /metrics says which lanes this instance leads (relay_leader).
 */
import type { Client as PgClient } from 'pg';
import { Counter, Registry } from 'prom-client';
import { config } from '../config';
import { connectBrokerPublishers } from '../composition/publishers';
import { createOrderEventStore } from '../composition/store';
import { listenForAppends } from '../eventstore';
import { createKnex, createLogger, createPgClient } from '../infra';
import type { Logger } from '../infra/logger';
import { readOnScrape, scrapedGauges, startObservabilityServer } from '../infra/observability';
import type { Broker } from '../messaging/errors';
import { OutboxRelay, relayCheckpointId, type RelayLaneState } from '../messaging/relay/outbox-relay';
import { RelayLeadership, defaultInstanceId } from '../messaging/relay/relay-lease';
import { relayLag, type RelayLag } from '../messaging/relay/relay-lag';
import { messagingStatus } from '../messaging/status';

const LAG_LOG_INTERVAL_MS = 30_000;

/** Each lane's figures, read when scraped: what it published, its failures, its lag behind the log. */
function relayMetrics(registry: Registry, relay: OutboxRelay, readLag: () => Promise<RelayLag[]>, logger: Logger): void {
  let lags: RelayLag[] = [];
  const refresh = readOnScrape(
    async () => {
      lags = await readLag();
    },
    { onError: (err) => logger.warn({ err: err.message }, 'could not read relay lag') },
  );
  const laneGauge = scrapedGauges(registry, 'broker', () => relay.status(), (lane: RelayLaneState) => lane.broker);
  laneGauge('relay_published_events', 'Events this process has published and had confirmed', (lane) => lane.published);
  laneGauge('relay_skipped_events', 'Events this process passed over because the fast path had delivered them', (lane) => lane.skipped);
  laneGauge('relay_consecutive_failures', 'Failed publish attempts since the last success', (lane) => lane.consecutiveFailures);
  scrapedGauges(registry, 'lane', () => relay.status(), (lane: RelayLaneState) => lane.broker)(
    'relay_leader',
    '1 while this instance leads the lane (publishes to the broker), 0 while it stands by',
    (lane) => (lane.leading ? 1 : 0),
  );
  const lagGauge = scrapedGauges(
    registry,
    'broker',
    async () => {
      await refresh();
      return lags;
    },
    (lag: RelayLag) => lag.broker,
  );
  lagGauge('relay_lag_events', 'Committed events after the lane checkpoint', (lag) => lag.lagEvents);
  lagGauge('relay_lag_seconds', 'Age of the oldest event the lane has not published (0 when caught up)', (lag) => lag.lagSeconds);
}

async function printStatus(): Promise<void> {
  const db = createKnex({ poolMax: 2, applicationName: 'relay-status' });
  try {
    console.log(JSON.stringify(await messagingStatus(db), null, 2));
  } finally {
    await db.destroy();
  }
}

/** LISTEN only makes the relay faster; when it cannot be opened, the relay polls. */
async function openListener(logger: Logger): Promise<PgClient | undefined> {
  const client = createPgClient('relay-listener');
  client.on('error', (err: Error) => logger.warn({ err: err.message }, 'LISTEN connection lost; relying on polling'));
  try {
    return await listenForAppends(client);
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not LISTEN for appends; relying on polling');
    return undefined;
  }
}

function brokersArgument(args: readonly string[]): Broker[] {
  const index = args.indexOf('--broker');
  if (index < 0) return ['rabbitmq', 'kafka'];
  const broker = args[index + 1];
  if (broker !== 'rabbitmq' && broker !== 'kafka') throw new Error('--broker takes rabbitmq or kafka');
  return [broker];
}

async function run(): Promise<void> {
  const brokers = brokersArgument(process.argv.slice(2));
  const logger = createLogger('relay');
  const db = createKnex({ poolMax: 4, applicationName: 'relay' });
  // The relay only reads; the registry upcasts old order events (other types pass through as stored).
  const store = createOrderEventStore(db);
  const listener = await openListener(logger);
  const env = config();
  const instanceId = env.RELAY_INSTANCE_ID ?? defaultInstanceId();
  // Each copy says which relay instance sent it: a duplicate is then traced to a leadership change.
  const { publishers, close: closePublishers } = await connectBrokerPublishers(brokers, { connectionName: 'relay', logger, publishedBy: `relay:${instanceId}` });
  const registry = new Registry();
  const changes = new Counter({
    name: 'relay_leadership_changes_total',
    help: 'Times this instance took (acquired) or lost (lost) the leadership of a lane',
    labelNames: ['lane', 'change'],
    registers: [registry],
  });
  const laneOf = new Map(brokers.map((broker) => [relayCheckpointId(env.RELAY_CHECKPOINT_PREFIX, broker), broker]));
  const leadership = new RelayLeadership({
    db,
    lanes: [...laneOf.keys()],
    ttlMs: env.RELAY_LEASE_TTL_MS,
    renewIntervalMs: env.RELAY_LEASE_RENEW_INTERVAL_MS,
    instanceId,
    logger,
    onChange: (lane, change) => changes.inc({ lane: laneOf.get(lane) ?? lane, change }),
  });
  await leadership.start();
  const relay = new OutboxRelay({ db, store, publishers, listener, logger, leadership });
  await relay.start();

  relayMetrics(registry, relay, () => relayLag(db, undefined, brokers), logger);
  const server = await startObservabilityServer({
    host: env.METRICS_HOST,
    port: env.RELAY_METRICS_PORT,
    registry,
    readiness: {
      postgres: async () => {
        await db.raw('SELECT 1');
      },
      // A lane that keeps failing has lost its broker (or the broker refuses it).
      ...Object.fromEntries(
        relay.status().map((lane) => [
          lane.broker,
          async () => {
            const now = relay.status().find((l) => l.broker === lane.broker);
            if (now && now.consecutiveFailures > 0) throw new Error(now.lastError ?? `${now.consecutiveFailures} failed publishes`);
          },
        ]),
      ),
    },
  });
  logger.info({ brokers, metricsPort: server.port, instance: leadership.instanceId }, 'relay serving health and metrics');

  const lagTimer = setInterval(() => {
    relayLag(db, undefined, brokers)
      .then((lags) => {
        for (const lag of lags) logger.info({ broker: lag.broker, lagEvents: lag.lagEvents, lagSeconds: lag.lagSeconds }, 'relay lag');
      })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not read relay lag'));
  }, LAG_LOG_INTERVAL_MS);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping relay');
    clearInterval(lagTimer);
    await relay.stop();
    await leadership.stop();
    await server.close();
    await closePublishers();
    await listener?.end().catch(() => undefined);
    await db.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

const main = process.argv.includes('--status') ? printStatus : run;
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
