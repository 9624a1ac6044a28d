/** Read models built from the Order events, and the machinery that keeps them exactly up to date. */
export { PROJECTION_NAMES, isProjectionName, type ProjectionName } from './names';
export { ProjectionRunner, type ProjectionRunnerOptions, type ApplyOptions, type ApplyResult } from './runner';
export { MissingEventsError, type ApplyStats } from './apply';
export { OutOfOrderError } from './fold';
export {
  rebuildProjection,
  rebuildProjections,
  RebuildInProgressError,
  type RebuildDependencies,
  type RebuildOptions,
  type RebuildResult,
} from './rebuild';
export { projectionLag, type ProjectionLag, type ProjectionLagOptions } from './lag';
export { startSubscriptionProjector, type SubscriptionProjectorOptions } from './subscription-projector';
export { createReadModelSchema, dropReadModelSchema, READ_MODEL_TABLES } from './schema';
export { PROJECTIONS } from './registry';
export type { DeliveredEvent, Projection, ProjectionStep, AppliedOrder } from './types';
export type { OrderViewRow } from './order-view';
export type { CustomerOrdersRow } from './customer-orders';
export type { DailySalesRow } from './daily-sales';
export type { ProductMetricsRow } from './product-metrics';
