import type { Money } from '../money';
import type { OrderStatus } from './state';
import type { CompensableStep, FailedStep } from './steps';

/*
 * What callers ask of an order. Commands other than CreateOrder carry no order id: the caller loads the
 * order's stream and hands decide its state. Times come in as ISO strings (Date#toISOString) because
 * commands cross JSON boundaries (HTTP, Temporal payloads) and decide must not read the clock.
 */
export type OrderCommand =
  | { type: 'CreateOrder'; data: { orderId: string; customerId: string; currency: string; now: string } }
  | { type: 'AddItem'; data: { sku: string; quantity: number; unitPrice: Money } }
  | { type: 'RemoveItem'; data: { sku: string } }
  | { type: 'SubmitOrder'; data: { now: string } }
  | { type: 'RecordInventoryReserved'; data: { reservationId: string } }
  | { type: 'RecordInventoryReleased'; data: { reservationId: string; reason: string } }
  | { type: 'RecordPaymentCaptured'; data: { paymentId: string; amount: Money } }
  | { type: 'RecordPaymentRefunded'; data: { paymentId: string; amount: Money; reason: string } }
  | { type: 'RecordShipmentCreated'; data: { shipmentId: string; carrier: string; trackingNumber: string } }
  | { type: 'RecordShipmentCancelled'; data: { shipmentId: string; reason: string } }
  | { type: 'ConfirmOrder'; data: { now: string } }
  | { type: 'MarkDelivered'; data: { now: string } }
  /**
   * acceptedInStatus: the status the order had when the workflow accepted the cancel request. The step
   * then in flight may still finish (a shipment gets created); the cancel accepted before it still holds.
   */
  | { type: 'CancelOrder'; data: { reason: string; now: string; acceptedInStatus?: OrderStatus } }
  | { type: 'FailOrder'; data: { reason: string; failedStep: FailedStep; now: string } }
  | { type: 'RecordCompensationFailed'; data: { step: CompensableStep; reason: string; now: string } };

export type OrderCommandType = OrderCommand['type'];
export type OrderCommandOf<Type extends OrderCommandType> = Extract<OrderCommand, { type: Type }>;
export type OrderCommandData<Type extends OrderCommandType> = OrderCommandOf<Type>['data'];
