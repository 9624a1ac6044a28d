// Everything a worker registers as workflows (its workflowsPath points here).
export { orderWorkflow } from './order/order-workflow';
