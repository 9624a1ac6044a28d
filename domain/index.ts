/** The order's rules as pure functions, and its events. Nothing here does I/O or reads the clock. */

export * from './errors';
export type { Money } from './money';
export * as money from './money';

export {
  ORDER_EVENT_DEFINITIONS,
  ORDER_STREAM_TYPE,
  DRAFT_EXPIRED_REASON,
  orderStreamId,
  orderIdFromStreamId,
  isOrderEventType,
  toOrderEvent,
  orderRegistry,
} from './order/events';
export type { OrderEvent, OrderEventType, OrderEventOf, OrderEventData } from './order/events';
export type { OrderCommand, OrderCommandType, OrderCommandOf, OrderCommandData } from './order/commands';
export {
  initialOrderState,
  evolve,
  orderStateFrom,
  ORDER_STATUSES,
  TERMINAL_STATUSES,
  CANCELLABLE_STATUSES,
  UNWINDING_STATUSES,
} from './order/state';
export { whyNotCancellable } from './order/decisions/closing';
export type { OrderState, OrderStatus } from './order/state';
export { decide } from './order/decide';
export { findLine, sortedLines, lineTotal } from './order/lines';
export type { OrderLine, OrderLines } from './order/lines';
export { sagaProgress } from './order/saga';
export type { SagaProgress } from './order/saga';
export { SAGA_STEPS, COMPENSABLE_STEPS, FAILED_STEPS } from './order/steps';
export type { SagaStep, CompensableStep, FailedStep } from './order/steps';
export { MAX_QUANTITY_PER_SKU, checkReason } from './order/validate';
export { MAX_REASON_LENGTH, isStorableText, toStorableText } from './order/fields';
export { checkoutCommands, checkoutSkus, decideAll } from './order/checkout';
export type { CheckoutLine, CheckoutRequest } from './order/checkout';
