/**
 * The promise of every order, checked from outside as a user would: the workflow's end in Temporal,
 * the event log, and the services' rows (reservation, payment, shipment) must tell one story, with
 * nothing held unless the order was delivered or an undo that could not be done is on record.
 */
import type { Knex } from 'knex';
import type { WorkflowHandle } from '@temporalio/client';
import { orderStateFrom, orderStreamId, toOrderEvent, type OrderState } from '../../domain';
import type { PostgresEventStore } from '../../eventstore';

export interface OrderRows {
  reservation?: { status: string; order_id: string | null };
  payment?: { status: string; amount_minor: string | null };
  shipment?: { status: string; order_id: string | null };
}

export async function serviceRows(db: Knex, orderId: string): Promise<OrderRows> {
  const [reservation, payment, shipment] = await Promise.all([
    db('inventory_reservations').where({ reservation_id: `res-${orderId}` }).first('status', 'order_id'),
    db('payments').where({ payment_id: `pay-${orderId}` }).first('status', 'amount_minor'),
    db('shipments').where({ shipment_id: `ship-${orderId}` }).first('status', 'order_id'),
  ]);
  return { reservation, payment, shipment } as OrderRows;
}

/**
 * Every violation of the invariant for one finished order (empty when it holds). `state` is the
 * order folded from its event log; `types` its event types in order.
 */
export function invariantViolations(state: OrderState, types: readonly string[], rows: OrderRows): string[] {
  const problems: string[] = [];
  const has = (type: string): boolean => types.includes(type);
  const unsettled = new Set(state.unsettled);
  const delivered = state.status === 'delivered';
  if (!['delivered', 'cancelled', 'failed', 'compensation_failed'].includes(state.status)) {
    problems.push(`the log ends ${state.status}, not in an end status`);
  }

  // Inventory: a reservation that holds stock is in the log, and is committed only for a delivered order.
  const { reservation, payment, shipment } = rows;
  if (reservation?.status === 'reserved' && !unsettled.has('inventory')) problems.push('a reservation still holds stock');
  if (reservation && reservation.status !== 'released' && !has('InventoryReserved')) problems.push(`reservation ${reservation.status} but never recorded`);
  if (reservation?.status === 'committed' && !delivered && !unsettled.has('inventory')) problems.push('stock sold for an order not delivered');
  if (has('InventoryReleased') && reservation?.status !== 'released') problems.push(`InventoryReleased recorded, reservation ${reservation?.status}`);
  if (delivered && reservation?.status !== 'committed') problems.push(`delivered, reservation ${reservation?.status}`);
  if (has('InventoryReserved') && !has('InventoryReleased') && !delivered && !unsettled.has('inventory')) problems.push('reserved, never released');

  // Money: a charge that stands is in the log and belongs to a delivered order; a refund is recorded.
  const charged = payment?.amount_minor !== null && payment?.amount_minor !== undefined;
  if (charged && !has('PaymentCaptured')) problems.push('charged, but the log has no PaymentCaptured');
  if (payment?.status === 'captured' && !delivered && !unsettled.has('payment')) problems.push('a charge stands for an order not delivered');
  if (has('PaymentRefunded') && payment?.status !== 'refunded') problems.push(`PaymentRefunded recorded, payment ${payment?.status}`);
  if (charged && payment?.status === 'refunded' && !has('PaymentRefunded')) problems.push('refunded, but the log has no PaymentRefunded');
  if (delivered && payment?.status !== 'captured') problems.push(`delivered, payment ${payment?.status}`);

  // Shipping: a live shipment is in the log, and only a delivered order keeps one.
  const shipped = shipment !== undefined && shipment.order_id !== null;
  if (shipped && !has('ShipmentCreated')) problems.push(`shipment ${shipment.status}, but the log has no ShipmentCreated`);
  if (shipment?.status === 'created' && !unsettled.has('shipment')) problems.push('a shipment is still out');
  if (has('ShipmentCancelled') && shipment?.status !== 'cancelled') problems.push(`ShipmentCancelled recorded, shipment ${shipment?.status}`);
  if (delivered && shipment?.status !== 'delivered') problems.push(`delivered, shipment ${shipment?.status}`);

  // The log's own books: every done step undone, unless delivered or on record as unsettled.
  for (const [done, undone, step] of [
    ['InventoryReserved', 'InventoryReleased', 'inventory'],
    ['PaymentCaptured', 'PaymentRefunded', 'payment'],
    ['ShipmentCreated', 'ShipmentCancelled', 'shipment'],
  ] as const) {
    if (has(done) && !has(undone) && !delivered && !unsettled.has(step)) problems.push(`${done} never undone`);
    if (has(undone) && !has(done)) problems.push(`${undone} without ${done}`);
  }
  if (state.status === 'compensation_failed' && unsettled.size === 0) problems.push('compensation_failed with nothing unsettled');
  return problems;
}

export interface CheckedOrder {
  orderId: string;
  state: OrderState;
  types: string[];
  rows: OrderRows;
  workflowStatus: string;
  problems: string[];
}

/**
 * Waits for the order's workflow to close, then checks it: never FAILED or still running, its
 * result (or, for a workflow cancelled from outside, its log) equal to the log, and the invariant.
 */
export async function checkFinishedOrder(db: Knex, store: PostgresEventStore, handle: WorkflowHandle, timeoutMs = 60_000): Promise<CheckedOrder> {
  const orderId = handle.workflowId.replace(/^order-/, '');
  const result = await Promise.race([
    handle.result().then(
      (value: unknown) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise<{ timedOut: true }>((resolve) => setTimeout(() => resolve({ timedOut: true }), timeoutMs)),
  ]);
  const workflowStatus = (await handle.describe()).status.name;
  const events = await store.readStream(orderStreamId(orderId));
  const state = orderStateFrom(events.map(toOrderEvent));
  const types = events.map((e) => e.type);
  const rows = await serviceRows(db, orderId);
  const problems = invariantViolations(state, types, rows);
  if ('timedOut' in result) problems.push(`workflow still ${workflowStatus} after ${timeoutMs} ms`);
  if (workflowStatus !== 'COMPLETED' && workflowStatus !== 'CANCELLED') problems.push(`workflow ended ${workflowStatus}`);
  if ('value' in result) {
    const outcome = result.value as { status: string; version: number };
    if (outcome.status !== state.status || outcome.version !== state.version) {
      problems.push(`workflow says ${outcome.status} v${outcome.version}, log says ${state.status} v${state.version}`);
    }
  }
  return { orderId, state, types, rows, workflowStatus, problems };
}
