import type { OrderCommand } from './commands';
import type { OrderEvent } from './events';
import type { OrderState } from './state';
import { cancelOrder, failOrder } from './decisions/closing';
import {
  recordCompensationFailed,
  recordInventoryReleased,
  recordPaymentRefunded,
  recordShipmentCancelled,
} from './decisions/compensation';
import { addItem, createOrder, removeItem, submitOrder } from './decisions/draft';
import {
  confirmOrder,
  markDelivered,
  recordInventoryReserved,
  recordPaymentCaptured,
  recordShipmentCreated,
} from './decisions/fulfilment';

/**
 * Decides what a command means for an order in a given state: the events to append (none when the command
 * is already in effect), or a DomainError when it breaks a rule. Pure: the same input always decides the same.
 */
export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  switch (command.type) {
    case 'CreateOrder':
      return createOrder(command.data, state);
    case 'AddItem':
      return addItem(command.data, state);
    case 'RemoveItem':
      return removeItem(command.data, state);
    case 'SubmitOrder':
      return submitOrder(command.data, state);
    case 'RecordInventoryReserved':
      return recordInventoryReserved(command.data, state);
    case 'RecordPaymentCaptured':
      return recordPaymentCaptured(command.data, state);
    case 'RecordShipmentCreated':
      return recordShipmentCreated(command.data, state);
    case 'ConfirmOrder':
      return confirmOrder(command.data, state);
    case 'MarkDelivered':
      return markDelivered(command.data, state);
    case 'RecordInventoryReleased':
      return recordInventoryReleased(command.data, state);
    case 'RecordPaymentRefunded':
      return recordPaymentRefunded(command.data, state);
    case 'RecordShipmentCancelled':
      return recordShipmentCancelled(command.data, state);
    case 'CancelOrder':
      return cancelOrder(command.data, state);
    case 'FailOrder':
      return failOrder(command.data, state);
    case 'RecordCompensationFailed':
      return recordCompensationFailed(command.data, state);
    default:
      return unknownCommand(command);
  }
}

function unknownCommand(command: never): never {
  throw new Error(`Unknown order command ${JSON.stringify(command)}`);
}
