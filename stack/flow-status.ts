/**
 * The second half of `npm run stack:status`: how far the events have flowed. Each projection's position
 * and lag behind the event store's head, the relay lanes' lag, RabbitMQ queue depths and Kafka
 * consumer-group lag, asking only the services stack/status.sh found up:
 *
 *   tsx stack/flow-status.ts [postgres] [rabbitmq] [kafka]
 *
 * It only reports: whatever it cannot read (no schema yet, a service that stopped answering) is printed
 * as such, and it always exits 0, so that the status's exit code keeps meaning "a service is down".
 */
import type { Knex } from 'knex';
import { createOrderEventStore } from '../composition/store';
import { createKnex } from '../infra';
import type { Broker } from '../messaging/errors';
import { messagingStatus, type Section } from '../messaging/status';
import { PROJECTION_NAMES, PROJECTIONS, projectionLag } from '../projections';

const MAX_ROWS = 15;

const seconds = (s: number): string => (s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

function print(title: string, rows: readonly string[]): void {
  console.log(title);
  for (const row of rows.slice(0, MAX_ROWS)) console.log(`  ${row}`);
  if (rows.length > MAX_ROWS) console.log(`  ... and ${rows.length - MAX_ROWS} more`);
}

function rowsOf<T>(value: Section<T>, format: (value: T) => string[]): string[] {
  return typeof value === 'object' && value !== null && 'error' in value ? [`(unavailable: ${value.error})`] : format(value);
}

async function missingTables(db: Knex, tables: readonly string[]): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { name: string; found: string | null }[] }>(
    'SELECT name, to_regclass(name)::text AS found FROM unnest(?::text[]) AS name',
    [[...tables]],
  );
  return rows.filter((r) => r.found === null).map((r) => r.name);
}

async function projectionRows(db: Knex): Promise<string[]> {
  const store = createOrderEventStore(db);
  const rows: string[] = [];
  for (const name of PROJECTION_NAMES) {
    const lag = await projectionLag(db, store, name);
    const events = `${lag.exact ? '' : 'up to '}${lag.events} events`;
    rows.push(`${name.padEnd(18)} position ${String(lag.position.globalPosition).padStart(9)} of ${lag.head}   lag ${events}, ${seconds(lag.seconds)}`);
  }
  return rows;
}

async function main(): Promise<void> {
  const up = new Set(process.argv.slice(2));
  if (!up.has('postgres')) {
    console.log('flow: postgres is down, nothing to read');
    return;
  }
  const db = createKnex({ poolMax: 2, applicationName: 'stack-status' });
  try {
    const missing = await missingTables(db, ['events', 'subscription_checkpoints', ...PROJECTION_NAMES.map((n) => PROJECTIONS[n].versionTable), 'projection_checkpoints']);
    if (missing.length > 0) {
      console.log(`flow: the database has no schema yet (missing ${missing.join(', ')}); npm run stack:up or npm run migrate creates it`);
      return;
    }
    print('projections (position in the event log, lag behind its head)', await projectionRows(db).catch((err: unknown) => [`(unavailable: ${(err as Error).message})`]));
    const brokers = (['rabbitmq', 'kafka'] as const).filter((b): b is Broker => up.has(b));
    const status = await messagingStatus(db, { brokers });
    print(
      'relay lanes',
      rowsOf(status.relay, (lanes) =>
        lanes.map((l) => `${l.broker.padEnd(18)} checkpoint ${l.checkpoint.globalPosition.padStart(9)} of ${l.headPosition}   lag ${l.lagEvents} events, ${seconds(l.lagSeconds)}   ${l.leader ? `led by ${l.leader.instance} (epoch ${l.leader.epoch})` : 'no leader'}`),
      ),
    );
    // Queues with nothing in them and nobody reading (tests' leftovers) would only hide the ones that matter.
    print(
      'rabbitmq queues (ready + unacked, consumers)',
      rowsOf(status.rabbitmqQueues, (queues) => {
        const shown = queues.filter((q) => q.messages > 0 || q.consumers > 0);
        return shown.length === 0 ? ['(all empty and unconsumed)'] : shown.map((q) => `${q.name.padEnd(32)} ${q.ready} + ${q.unacknowledged}, ${q.consumers} consumers`);
      }),
    );
    print(
      'kafka consumer groups (lag behind order-events)',
      rowsOf(status.kafkaConsumerGroups, (groups) => (groups.length === 0 ? ['(none)'] : groups.map((g) => `${g.groupId.padEnd(32)} ${g.lag}`))),
    );
    print('kafka DLQ', rowsOf(status.kafkaDlqMessages, (n) => [`${n} messages`]));
  } finally {
    await db.destroy();
  }
}

main()
  .catch((err: unknown) => console.log(`flow: could not be read (${(err as Error).message})`))
  .finally(() => process.exit(0));
