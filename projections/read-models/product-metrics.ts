import { lineTotal, sortedLines } from '../../domain';
import type { AggregateShape } from '../engine/aggregate-shape';
import type { ProjectionStep } from '../engine/types';

/**
 * product_metrics: per SKU and currency.
 *  - units_sold and revenue_minor count at OrderDelivered, the moment the saga commits the reservation to
 *    sold in inventory: until then a confirmed order can still fail in delivery and be unwound, so counting
 *    at confirmation would have to be taken back.
 *  - units_released counts the units of a reservation released by a cancellation or a compensation
 *    (InventoryReleased); the reservation always covers the order's submitted lines.
 */
export type ProductMetricsRow = {
  sku: string;
  currency: string;
  units_sold: number;
  revenue_minor: number;
  units_released: number;
};

export const PRODUCT_METRICS_SHAPE: AggregateShape<ProductMetricsRow> = {
  table: 'product_metrics',
  keys: ['sku', 'currency'],
  sums: ['units_sold', 'revenue_minor', 'units_released'],
  greatest: [],
  columns: { sku: 'text', currency: 'text', units_sold: 'bigint', revenue_minor: 'bigint', units_released: 'bigint' },
};

export function productMetricsChanges({ before, event, after }: ProjectionStep): ProductMetricsRow[] {
  switch (event.type) {
    case 'OrderDelivered':
      return sortedLines(after.items).map((line) => ({
        sku: line.sku,
        currency: line.unitPrice.currency,
        units_sold: line.quantity,
        revenue_minor: lineTotal(line).amountMinor,
        units_released: 0,
      }));
    case 'InventoryReleased':
      return sortedLines(before.items).map((line) => ({
        sku: line.sku,
        currency: line.unitPrice.currency,
        units_sold: 0,
        revenue_minor: 0,
        units_released: line.quantity,
      }));
    default:
      return [];
  }
}
