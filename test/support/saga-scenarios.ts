import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Knex } from 'knex';
import { addItemUpdate, cancelOrderUpdate, orderDeliveredSignal, submitOrderUpdate } from '../../workflows/order/contract';
import { makeCatalog, startOrder, waitForStatus } from './saga-fixtures';

/**
 * The representative runs of the order saga, driven through the real server. The replay histories in
 * test/replay/ are captured from these (scripts/capture-replay-histories.ts).
 */
export type ScenarioName =
  | 'happy-path'
  | 'out-of-stock'
  | 'card-declined'
  | 'cancel-during-payment'
  | 'shipment-failure'
  | 'delivery-timeout';

export const SCENARIOS: readonly ScenarioName[] = [
  'happy-path',
  'out-of-stock',
  'card-declined',
  'cancel-during-payment',
  'shipment-failure',
  'delivery-timeout',
];

/** Runs one scenario to its end; payments must be slow (a capture delay) for cancel-during-payment. */
export async function runScenario(name: ScenarioName, client: Client, db: Knex): Promise<WorkflowHandle> {
  const catalog = await makeCatalog(db, 5);
  const draft = async (customerId: string, quantity = 1, extra = {}): Promise<WorkflowHandle> => {
    const handle = await startOrder(client, customerId, extra);
    await handle.executeUpdate(addItemUpdate, { args: [{ sku: catalog.sku.widget, quantity }] });
    await handle.executeUpdate(addItemUpdate, { args: [{ sku: catalog.sku.gadget, quantity: 1 }] });
    await handle.executeUpdate(submitOrderUpdate);
    return handle;
  };
  let handle: WorkflowHandle;
  switch (name) {
    case 'happy-path':
      handle = await draft(catalog.customers.good);
      await waitForStatus(handle, ['confirmed']);
      await handle.signal(orderDeliveredSignal, {});
      break;
    case 'out-of-stock':
      handle = await draft(catalog.customers.good, 99);
      break;
    case 'card-declined':
      handle = await draft(catalog.customers.declines);
      break;
    case 'cancel-during-payment':
      handle = await draft(catalog.customers.good);
      await waitForStatus(handle, ['inventory_reserved']);
      // As the API cancels: the update, answered once the workflow has taken it.
      await handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'customer changed their mind' }] });
      break;
    case 'shipment-failure':
      handle = await draft(catalog.customers.undeliverable);
      break;
    case 'delivery-timeout':
      handle = await draft(catalog.customers.good, 1, { deliveryTimeoutMs: 1000 });
      break;
  }
  await handle.result();
  return handle;
}
