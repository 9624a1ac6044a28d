import { ApplicationFailure } from '@temporalio/common';

/*
 * The business failures of the services the order saga calls: their names, and how to find one behind
 * an error. Activities throw them (activities/errors.ts, which re-exports this module); the workflow
 * tells them apart to compensate. Workflow code, so only @temporalio/common here (the import
 * boundaries in eslint.config.mjs hold it to that).
 */

export const BUSINESS_FAILURES = {
  /** Not enough available stock for a SKU. Details: OutOfStockDetails. */
  outOfStock: 'OutOfStock',
  /** A SKU that is not in the catalog. Details: UnknownSkuDetails. */
  unknownSku: 'UnknownSku',
  /** The reservation id was released (possibly before it was ever reserved); it can never reserve again. */
  reservationReleased: 'ReservationReleased',
  /** The reservation's goods are sold; giving them back is a return, not a compensation. */
  reservationCommitted: 'ReservationCommitted',
  /** Committing a reservation id that was never reserved. */
  reservationNotFound: 'ReservationNotFound',
  /** The customer's payment method declined, or the customer has none. */
  paymentDeclined: 'PaymentDeclined',
  /** No customer with that id. */
  unknownCustomer: 'UnknownCustomer',
  /** The payment id was refunded (possibly before any capture); it can never charge again. */
  paymentVoided: 'PaymentVoided',
  /** The customer's address cannot be shipped to. */
  undeliverableAddress: 'UndeliverableAddress',
  /** The shipment id was cancelled (possibly before it was ever created). */
  shipmentCancelled: 'ShipmentCancelled',
  /** The shipment was delivered and can no longer be cancelled. */
  shipmentDelivered: 'ShipmentDelivered',
  /** Marking delivered a shipment id that was never created. */
  shipmentNotFound: 'ShipmentNotFound',
  /** An idempotency key (reservation, payment, shipment or notification id) reused with other content. */
  idempotencyConflict: 'IdempotencyConflict',
  /** Malformed activity input: a bug in the caller, which a retry would repeat. */
  invalidRequest: 'InvalidRequest',
} as const;

export type BusinessFailureKey = keyof typeof BUSINESS_FAILURES;
export type BusinessFailureType = (typeof BUSINESS_FAILURES)[BusinessFailureKey];

export const BUSINESS_FAILURE_TYPES: readonly BusinessFailureType[] = Object.values(BUSINESS_FAILURES);

export interface OutOfStockDetails {
  sku: string;
  requested: number;
  available: number;
}

export interface UnknownSkuDetails {
  sku: string;
}

/** Details are a plain JSON object, so they survive Temporal's payload conversion unchanged. */
export type BusinessFailureDetails = Readonly<Record<string, string | number | boolean | null>>;

export function isBusinessFailureType(value: unknown): value is BusinessFailureType {
  return typeof value === 'string' && (BUSINESS_FAILURE_TYPES as readonly string[]).includes(value);
}

export interface BusinessFailure {
  type: BusinessFailureType;
  message: string;
  details: BusinessFailureDetails;
}

/**
 * Finds the business failure behind an error, however deeply wrapped: in a workflow an activity's
 * failure arrives as an ActivityFailure whose cause is the ApplicationFailure, and a client sees that
 * again wrapped in a WorkflowFailedError.
 */
export function findBusinessFailure(error: unknown): BusinessFailure | undefined {
  let current: unknown = error;
  // Bounded, in case a cause chain ever loops.
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    if (current instanceof ApplicationFailure && isBusinessFailureType(current.type)) {
      const first: unknown = current.details?.[0];
      const details = typeof first === 'object' && first !== null ? (first as BusinessFailureDetails) : {};
      return { type: current.type, message: current.message, details };
    }
    current = current.cause;
  }
  return undefined;
}
