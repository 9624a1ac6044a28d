/*
 * Fast workflow tests: the real order workflow on the Java SDK's time-skipping test server, with every
 * activity replaced by the in-memory doubles of test/support/workflow-doubles.ts. No Postgres,
 * RabbitMQ, Kafka or dev server is involved. One server and one set of workers per test file:
 *
 *   const harness = useWorkflowHarness();
 *   it('...', async () => {
 *     const order = await harness.startOrder();
 *     await order.addItem('SKU-BOOK', 2);
 *     await order.submit();
 *     ...
 *   });
 *
 * Time skipping: the server skips time only while a test awaits a workflow's result (order.result())
 * or calls harness.skipTime(), and never while an activity is outstanding. Everything else (updates,
 * queries, waitFor) runs in real time, so a test signals what a workflow waits for *before* awaiting
 * its result, or the wait's timeout is what the result reports.
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkerOptions } from '@temporalio/worker';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import {
  ORDER_WORKFLOW_TYPE,
  addItemUpdate,
  cancelOrderSignal,
  checkoutUpdate,
  type CheckoutInput,
  getOrderQuery,
  getSagaProgressQuery,
  orderDeliveredSignal,
  orderWorkflowId,
  removeItemUpdate,
  submitOrderUpdate,
  type OrderOutcome,
  type OrderSnapshot,
  type OrderWorkflowInput,
} from '../../workflows/order/contract';
import { CustomerIdKey, OrderStatusKey, OrderTotalKey } from '../../workflows/search-attributes';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { OrderState } from '../../domain/order/state';
import type { SagaProgress } from '../../domain/order/saga';
import { ACTIVITIES_BY_QUEUE, SagaDoubles, type OrderServiceState, type QueueName, type StoredOrderEvent } from './workflow-doubles';
import { temporalTestServerLauncher } from './temporal-test-server';
import { TEST_SERVER_LAUNCHER_ENV, WORKFLOW_BUNDLE_ENV } from './workflow-global-setup';
import { WORKFLOWS_PATH } from './workflow-paths';
import { temporalDataConverter } from '../../infra/temporal';

/**
 * The workflow code: bundled once per jest run by the workflow project's global setup, or here (once
 * per test file) when the harness runs without it.
 */
async function workflowBundle(): Promise<NonNullable<WorkerOptions['workflowBundle']>> {
  const codePath = process.env[WORKFLOW_BUNDLE_ENV];
  if (codePath) return { codePath };
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  return { code };
}

const SEARCH_ATTRIBUTES = [OrderStatusKey, CustomerIdKey, OrderTotalKey];

/** One order workflow, driven through the client as the API drives it. */
export class OrderDriver {
  constructor(
    readonly orderId: string,
    readonly handle: WorkflowHandle,
    private readonly harness: WorkflowHarness,
  ) {}

  get workflowId(): string {
    return this.handle.workflowId;
  }

  addItem(sku: string, quantity: number): Promise<OrderSnapshot> {
    return this.handle.executeUpdate(addItemUpdate, { args: [{ sku, quantity }] });
  }

  removeItem(sku: string): Promise<OrderSnapshot> {
    return this.handle.executeUpdate(removeItemUpdate, { args: [{ sku }] });
  }

  submit(): Promise<OrderSnapshot> {
    return this.handle.executeUpdate(submitOrderUpdate);
  }

  checkout(checkout: CheckoutInput, updateId?: string): Promise<OrderSnapshot> {
    return this.handle.executeUpdate(checkoutUpdate, { args: [checkout], updateId });
  }

  /** Asks the workflow to cancel the order (today a signal: it answers nothing). */
  async cancel(reason?: string): Promise<void> {
    await this.handle.signal(cancelOrderSignal, reason === undefined ? {} : { reason });
  }

  /** The carrier reports the delivery. */
  async delivered(deliveredAt?: string): Promise<void> {
    await this.handle.signal(orderDeliveredSignal, deliveredAt === undefined ? {} : { deliveredAt });
  }

  state(): Promise<OrderState> {
    return this.handle.query(getOrderQuery);
  }

  progress(): Promise<SagaProgress> {
    return this.handle.query(getSagaProgressQuery);
  }

  /** Waits (time skipping meanwhile) for the workflow to finish and returns its outcome. */
  result(): Promise<OrderOutcome> {
    return this.handle.result() as Promise<OrderOutcome>;
  }

  /** Polls the order's state in real time until `predicate` holds; fails after `timeoutMs`. */
  async waitFor(predicate: (state: OrderState) => boolean, what = 'the expected state', timeoutMs = 10_000): Promise<OrderState> {
    const deadline = Date.now() + timeoutMs;
    let last: OrderState | undefined;
    for (;;) {
      last = await this.state();
      if (predicate(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`order ${this.orderId} did not reach ${what} within ${timeoutMs} ms; it is ${last.status} at version ${last.version}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  waitForStatus(status: OrderState['status'], timeoutMs?: number): Promise<OrderState> {
    return this.waitFor((state) => state.status === status, `status ${status}`, timeoutMs);
  }

  /** The events the event store double holds for this order, oldest first. */
  events(): StoredOrderEvent[] {
    return this.harness.doubles.eventStore.events(this.orderId);
  }

  eventTypes(): string[] {
    return this.events().map((e) => e.type);
  }

  /** The service records this order's workflow touched. */
  services(): OrderServiceState {
    return this.harness.doubles.serviceState(this.workflowId);
  }
}

export interface StartOrderOptions extends Partial<OrderWorkflowInput> {
  /** Items added (one addItem update each) right after the start. */
  items?: { sku: string; quantity: number }[];
  /** Submit after adding the items. */
  submit?: boolean;
}

export class WorkflowHarness {
  private readonly started: WorkflowHandle[] = [];
  private readonly running: Promise<void>[];

  private constructor(
    readonly env: TestWorkflowEnvironment,
    /** The doubles every worker's activities delegate to; cleared by reset(). */
    readonly doubles: SagaDoubles,
    private readonly workers: Worker[],
  ) {
    this.running = workers.map((worker) => worker.run());
  }

  /** Starts a time-skipping server (provisioned on first use) and a worker per task queue. */
  static async start(): Promise<WorkflowHarness> {
    const launcher = process.env[TEST_SERVER_LAUNCHER_ENV] ?? temporalTestServerLauncher();
    const [env, workflowCode] = await Promise.all([
      TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: launcher } },
        client: { dataConverter: temporalDataConverter() },
      }),
      workflowBundle(),
    ]);
    try {
      // The workflow upserts the custom search attributes, and the test server validates them.
      await env.connection.operatorService.addSearchAttributes({
        namespace: env.namespace ?? 'default',
        searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!])),
      });
      const doubles = new SagaDoubles();
      const workers: Worker[] = [];
      for (const queue of Object.keys(ACTIVITIES_BY_QUEUE) as QueueName[]) {
        workers.push(
          await Worker.create({
            connection: env.nativeConnection,
            namespace: env.namespace ?? 'default',
            taskQueue: TASK_QUEUES[queue],
            activities: doubles.activitiesFor(queue),
            dataConverter: temporalDataConverter(),
            ...(queue === 'orders' ? { workflowBundle: workflowCode } : {}),
            // Heartbeats (of delays and gates) reach the server at once, so cancellations reach them too.
            defaultHeartbeatThrottleInterval: '100ms',
            maxHeartbeatThrottleInterval: '100ms',
            shutdownGraceTime: '1s',
          }),
        );
      }
      return new WorkflowHarness(env, doubles, workers);
    } catch (err) {
      await env.teardown();
      throw err;
    }
  }

  get client(): Client {
    return this.env.client;
  }

  get faults(): SagaDoubles['faults'] {
    return this.doubles.faults;
  }

  /** Starts an order workflow with a fresh order id (and optionally adds items and submits). */
  async startOrder(options: StartOrderOptions = {}): Promise<OrderDriver> {
    const { items = [], submit = false, ...input } = options;
    const orderId = input.orderId ?? `o-${randomUUID()}`;
    const args: OrderWorkflowInput = { customerId: 'customer-1', currency: 'USD', ...input, orderId };
    const handle = await this.client.workflow.start(ORDER_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUES.orders,
      workflowId: orderWorkflowId(orderId),
      args: [args],
    });
    this.started.push(handle);
    const order = new OrderDriver(orderId, handle, this);
    for (const { sku, quantity } of items) await order.addItem(sku, quantity);
    if (submit) await order.submit();
    return order;
  }

  /**
   * A checkout in one call as the API makes it: Update-with-Start of a workflow that leaves its creation
   * to the checkout. `result` is the update's answer (or its refusal).
   */
  async checkout(
    checkout: CheckoutInput,
    options: { orderId?: string; updateId?: string; input?: Partial<OrderWorkflowInput> } = {},
  ): Promise<{ order: OrderDriver; result: Promise<OrderSnapshot> }> {
    const orderId = options.orderId ?? `o-${randomUUID()}`;
    const args: OrderWorkflowInput = { customerId: 'customer-1', currency: 'USD', ...options.input, orderId, createdByCheckout: true };
    const startWorkflowOperation = new WithStartWorkflowOperation(ORDER_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUES.orders,
      workflowId: orderWorkflowId(orderId),
      args: [args],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    const result = this.client.workflow.executeUpdateWithStart(checkoutUpdate, { args: [checkout], updateId: options.updateId, startWorkflowOperation });
    result.catch(() => undefined);
    const handle = await startWorkflowOperation.workflowHandle();
    this.started.push(handle);
    return { order: new OrderDriver(orderId, handle, this), result };
  }

  /** Moves the server's clock on by `ms` (time skipping), e.g. to pass a timer of a waiting workflow. */
  skipTime(ms: number): Promise<void> {
    return this.env.sleep(ms);
  }

  /** Between tests: ends workflows still running and forgets every call, fault and record. */
  async reset(): Promise<void> {
    const handles = this.started.splice(0);
    await Promise.all(
      handles.map(async (handle) => {
        const { status } = await handle.describe().catch(() => ({ status: { name: 'UNKNOWN' } }));
        if (status.name === 'RUNNING') await handle.terminate('test finished').catch(() => undefined);
      }),
    );
    this.doubles.clear();
  }

  async stop(): Promise<void> {
    await this.reset();
    for (const worker of this.workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(this.running);
    await this.env.teardown();
  }
}

/**
 * The harness of a test file: started before its first test, reset after each test, stopped after
 * the last. Read its properties inside tests (or hooks), not at module level.
 */
export function useWorkflowHarness(): WorkflowHarness {
  let harness: WorkflowHarness | undefined;
  beforeAll(async () => {
    harness = await WorkflowHarness.start();
  }, 120_000);
  afterEach(async () => {
    await harness?.reset();
  });
  afterAll(async () => {
    await harness?.stop();
  });
  return new Proxy({} as WorkflowHarness, {
    get(_target, property) {
      if (!harness) throw new Error('the workflow harness is used before its beforeAll hook ran');
      const value: unknown = Reflect.get(harness, property, harness);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(harness) : value;
    },
  });
}
