import { DeltaSums, type AggregateRow, type AggregateShape } from '../engine/aggregate-shape';
import { CUSTOMER_ORDERS_SHAPE, customerOrdersChanges } from './customer-orders';
import { DAILY_SALES_SHAPE, dailySalesChanges } from './daily-sales';
import type { ProjectionName } from './names';
import { PRODUCT_METRICS_SHAPE, productMetricsChanges } from './product-metrics';
import { aggregateStorage } from '../engine/storage/aggregate-store';
import { ORDER_VIEW_TABLE, loadOrderViewProgress, writeOrderViews } from '../engine/storage/order-view-store';
import type { Projection, ProjectionStep } from '../engine/types';

/** An aggregate projection: its pure deltas per applied event, stored by aggregateStorage. */
function aggregateProjection<Row extends AggregateRow>(
  name: ProjectionName,
  shape: AggregateShape<Row>,
  changes: (step: ProjectionStep) => Row[],
): Projection {
  const storage = aggregateStorage(shape);
  return {
    name,
    tables: [storage.table, storage.appliedTable],
    versionTable: storage.appliedTable,
    load: (db, tables, orderIds, options) => storage.load(db, tables, orderIds, options),
    startBatch() {
      const sums = new DeltaSums(shape);
      return {
        step(step) {
          for (const delta of changes(step)) sums.add(delta);
        },
        write: (db, tables, orders) => storage.write(db, tables, sums.rows(), orders),
      };
    },
  };
}

// order_view needs no per-event changes: its row is the order's state after the batch.
const orderView: Projection = {
  name: 'order_view',
  tables: [ORDER_VIEW_TABLE],
  versionTable: ORDER_VIEW_TABLE,
  load: (db, tables, orderIds) => loadOrderViewProgress(db, tables, orderIds),
  startBatch: () => ({
    step() {},
    write: (db, tables, orders) => writeOrderViews(db, tables, orders),
  }),
};

export const PROJECTIONS: Readonly<Record<ProjectionName, Projection>> = {
  order_view: orderView,
  customer_orders: aggregateProjection('customer_orders', CUSTOMER_ORDERS_SHAPE, customerOrdersChanges),
  daily_sales: aggregateProjection('daily_sales', DAILY_SALES_SHAPE, dailySalesChanges),
  product_metrics: aggregateProjection('product_metrics', PRODUCT_METRICS_SHAPE, productMetricsChanges),
};
