/** Read models built from the Order events, and the machinery that keeps them exactly up to date. */
export { PROJECTION_NAMES, isProjectionName, type ProjectionName } from './read-models/names';
export { ProjectionRunner, type ProjectionRunnerOptions, type ApplyOptions, type ApplyResult } from './engine/runner';
export { MissingEventsError, type ApplyStats } from './engine/apply';
export { OutOfOrderError } from './engine/fold';
export {
  rebuildProjection,
  rebuildProjections,
  RebuildInProgressError,
  type RebuildDependencies,
  type RebuildOptions,
  type RebuildResult,
} from './engine/rebuild';
export { projectionLag, type ProjectionLag, type ProjectionLagOptions } from './engine/lag';
export { startSubscriptionProjector, type SubscriptionProjectorOptions } from './engine/subscription-projector';
export { createReadModelSchema, dropReadModelSchema, READ_MODEL_TABLES } from './engine/schema';
export { PROJECTIONS } from './read-models/catalog';
export type { DeliveredEvent, Projection, ProjectionStep, AppliedOrder } from './engine/types';
export type { OrderViewRow } from './read-models/order-view';
export type { CustomerOrdersRow } from './read-models/customer-orders';
export type { DailySalesRow } from './read-models/daily-sales';
export type { ProductMetricsRow } from './read-models/product-metrics';
