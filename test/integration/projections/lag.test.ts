import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { freshBenchDatabase } from '../../../bench/support';
import { ORDER_EVENT_DEFINITIONS, orderStreamId } from '../../../domain';
import { EventRegistry, PostgresEventStore, START_OF_LOG, type StoredEvent } from '../../../eventstore';
import { createKnex } from '../../../infra/postgres';
import { ProjectionRunner, projectionLag } from '../../../projections';
import { appendOrderEvents, sampleOrderHistory, seededRandom } from '../../support/sample-orders';
import { requireService } from '../../support/stack';

// Lag is measured over the whole log, so this test has a database of its own.
const DATABASE = `orders_test_projection_lag_${randomUUID().slice(0, 8)}`;

describe('projection lag (real Postgres)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;
  const random = seededRandom(31);

  beforeAll(async () => {
    requireService('postgres');
    db = await freshBenchDatabase(DATABASE, 4);
    store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS));
    runner = new ProjectionRunner({ db, store });
  });
  afterAll(async () => {
    await db?.destroy();
    const admin = createKnex({ poolMax: 1, applicationName: 'jest-admin' });
    await admin.raw(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
    await admin.destroy();
  });

  async function appendOrder(orderId: string, events: number): Promise<StoredEvent[]> {
    const history = sampleOrderHistory({
      orderId,
      customerId: 'c',
      currency: 'USD',
      skus: ['SKU-1'],
      scenario: 'delivered',
      startsAt: new Date('2024-01-01T00:00:00.000Z'),
      random,
    });
    await appendOrderEvents(store, orderId, history.slice(0, events), 0);
    return store.readStream(orderStreamId(orderId));
  }

  const at = (event: StoredEvent) => ({ transactionId: event.transactionId, globalPosition: event.globalPosition });

  it('is zero on an empty log', async () => {
    expect(await projectionLag(db, store, 'order_view')).toEqual({
      projection: 'order_view',
      position: START_OF_LOG,
      head: 0n,
      events: 0,
      seconds: 0,
      exact: true,
    });
  });

  it('counts the events not applied yet and the age of the oldest, and moves the position up to it', async () => {
    const a = await appendOrder('a', 5);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    let lag = await projectionLag(db, store, 'daily_sales');
    expect(lag).toMatchObject({ position: START_OF_LOG, head: a[4]!.globalPosition, events: 5, exact: true });
    expect(lag.seconds).toBeGreaterThanOrEqual(1);

    await runner.applyEvents('daily_sales', a.slice(0, 3));
    lag = await projectionLag(db, store, 'daily_sales');
    expect(lag).toMatchObject({ position: at(a[2]!), events: 2 });

    await runner.applyEvents('daily_sales', a.slice(3));
    lag = await projectionLag(db, store, 'daily_sales');
    expect(lag).toMatchObject({ position: at(a[4]!), events: 0, seconds: 0 });
  });

  it('stays exact when orders are applied out of log order, and bounds its walk', async () => {
    const b = await appendOrder('b', 3);
    const c = await appendOrder('c', 2);
    // c arrives first (another partition, say): b's events are still missing, and the position waits for them.
    await runner.applyEvents('product_metrics', [...(await store.readStream(orderStreamId('a'))), ...c]);
    expect(await projectionLag(db, store, 'product_metrics')).toMatchObject({ events: 3, exact: true });
    // A walk of two events sees b's first two; the three after them are counted as not applied.
    expect(await projectionLag(db, store, 'product_metrics', { window: 2 })).toMatchObject({ events: 5, exact: false });
    const before = await projectionLag(db, store, 'product_metrics');
    expect(before.position.globalPosition).toBeLessThan(b[0]!.globalPosition);

    await runner.applyEvents('product_metrics', b);
    expect(await projectionLag(db, store, 'product_metrics')).toMatchObject({ position: at(c[1]!), events: 0 });
  });
});
