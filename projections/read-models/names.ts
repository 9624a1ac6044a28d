/** The read models projections/ builds; each is rebuilt, locked and measured on its own. */
export const PROJECTION_NAMES = ['order_view', 'customer_orders', 'daily_sales', 'product_metrics'] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

export function isProjectionName(value: string): value is ProjectionName {
  return (PROJECTION_NAMES as readonly string[]).includes(value);
}
