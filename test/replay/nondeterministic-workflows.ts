import { sleep } from '@temporalio/workflow';
import { orderWorkflow as currentOrderWorkflow } from '../../workflows/order/order-workflow';
import type { OrderOutcome, OrderWorkflowInput } from '../../workflows/order/contract';

/**
 * A deliberately non-deterministic edit of the order workflow: a timer before anything else. Histories
 * recorded by the real workflow start with an activity there, so replaying them must fail.
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderOutcome> {
  await sleep('1 second');
  return currentOrderWorkflow(input);
}
