import { UNWINDING_STATUSES, type OrderState } from './state';
import { COMPENSABLE_STEPS, SAGA_STEPS, type CompensableStep, type SagaStep } from './steps';

export interface SagaProgress {
  /** Steps that happened and are still in effect. */
  done: SagaStep[];
  /** Steps that happened and were undone. */
  compensated: CompensableStep[];
  /** Steps still to run; empty once the order is unwinding or has ended. */
  pending: SagaStep[];
  /** Done steps an unwinding or ended order must still undo, in the order to undo them (reverse of running). */
  awaitingCompensation: CompensableStep[];
  /** Done steps whose undo could not be done: an operator must settle them. */
  unsettled: CompensableStep[];
}

/** Where the order's saga stands; the workflow's query reports it and its compensation follows it. */
export function sagaProgress(state: OrderState): SagaProgress {
  const isDone: Record<SagaStep, boolean> = {
    inventory: state.reservationId !== null,
    payment: state.paymentId !== null,
    shipment: state.shipmentId !== null,
    confirmation: state.confirmedAt !== null,
  };
  const unwinding = UNWINDING_STATUSES.includes(state.status);
  return {
    done: SAGA_STEPS.filter((step) => isDone[step]),
    compensated: COMPENSABLE_STEPS.filter((step) => state.compensated[step]),
    pending: unwinding ? [] : SAGA_STEPS.filter((step) => !isDone[step]),
    awaitingCompensation: unwinding ? COMPENSABLE_STEPS.filter((step) => isDone[step] && !state.unsettled.includes(step)).reverse() : [],
    unsettled: [...state.unsettled],
  };
}
