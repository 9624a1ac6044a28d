/** The saga's steps, in the order it runs them; compensation undoes them in reverse. */
export const SAGA_STEPS = ['inventory', 'payment', 'shipment', 'confirmation'] as const;
export type SagaStep = (typeof SAGA_STEPS)[number];

/** Steps that hold something in another system and therefore have a compensating action. */
export const COMPENSABLE_STEPS = ['inventory', 'payment', 'shipment'] as const satisfies readonly SagaStep[];
export type CompensableStep = (typeof COMPENSABLE_STEPS)[number];

/**
 * Where a saga can fail: one of its steps, the wait for delivery (the carrier never confirmed it), or
 * while undoing them.
 */
export const FAILED_STEPS = [...SAGA_STEPS, 'delivery', 'compensation'] as const;
export type FailedStep = (typeof FAILED_STEPS)[number];
