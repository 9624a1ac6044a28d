/*
 * Issue 19: a model-based property test of the order saga. fast-check generates runs of cancels (by
 * update, by signal, or of the workflow itself; once or twice; with good and unstorable reasons) landing
 * before submit, while each step runs (before and after the service's work, or with a step that
 * completes anyway) and after the shipment; business failures of each forward activity and of one or
 * two undos; a rare retryable failure of any activity; and a delivery or its timeout. Each run drives
 * one order on the time-skipping server and checks, once the workflow ended, its events, status,
 * answers and compensations against the model of the rules (test/support/saga-model.ts), the service
 * doubles against the shared invariant, and replays the run's history on a fresh replay worker.
 *
 * Worker restarts are not a generated dimension: on the Java time-skipping test server a workflow task
 * for a stopped worker's sticky queue never moves to the normal queue (no sticky schedule-to-start
 * timeout, ResetStickyTaskQueue unimplemented), so a restarted worker stalls its orders; and a worker
 * without a cache (no sticky queue) makes each order take seconds. The replay of every run's full
 * history checks what a restart would replay (any prefix of it) for determinism.
 *
 * Two things the runs keep out (see normalise in test/support/saga-model.ts): an undo that fails for a
 * step whose activity reported its cancellation after the service had done the work (the order ends
 * with the service holding it and nothing on record), and a workflow cancel racing a confirmation
 * that finishes at that moment (the test server never completes that workflow task).
 *
 *   SAGA_MODEL_SEED=<seed> [SAGA_MODEL_PATH=<path>] SAGA_MODEL_RUNS=<n> ./run npx jest test/workflow/saga-model --runInBand
 *
 * reruns a failure (fast-check prints the seed and path); SAGA_MODEL_SHRINK=1 shrinks it too.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type HistoryAndWorkflowId } from '@temporalio/client';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { temporalDataConverter } from '../../infra/temporal';
import { cancelOrderSignal, cancelOrderUpdate, orderWorkflowId, type OrderOutcome } from '../../workflows/order/contract';
import { orderStateFrom, toOrderEvent, type OrderState } from '../../domain';
import { invariantViolations, type OrderRows } from '../support/order-invariants';
import { DEFAULT_STOCK, Gate, faults, type ActivityName } from '../support/workflow-doubles';
import { useWorkflowHarness, type OrderDriver, type WorkflowHarness } from '../support/workflow-harness';
import { WORKFLOW_BUNDLE_ENV } from '../support/workflow-global-setup';
import { WORKFLOWS_PATH } from '../support/workflow-paths';
import {
  FAILURE_OF,
  FORWARD_ACTIVITY,
  UNDO_FAILURE_TYPE,
  UNDO_OF,
  expectedRun,
  reasonText,
  scenarios,
  type Answer,
  type Expected,
  type Scenario,
} from '../support/saga-model';

const RUNS = Number(process.env.SAGA_MODEL_RUNS ?? 200);
// CI runs a pinned seed (a red CI must be reproducible); elsewhere every run draws a new one, printed on failure.
const PINNED_CI_SEED = 20261202;
const SEED =
  process.env.SAGA_MODEL_SEED !== undefined ? Number(process.env.SAGA_MODEL_SEED) : process.env.CI ? PINNED_CI_SEED : undefined;
const PATH = process.env.SAGA_MODEL_PATH;
const SHRINK = process.env.SAGA_MODEL_SHRINK === '1';
/** One run's limit on waiting (for a gate, a status, the result); a hung run fails instead of the test timing out. */
const WAIT_MS = 20_000;

/** A timer that keeps no test process alive (the long ones lose most races). */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(15);
  }
}

async function isRunning(order: OrderDriver): Promise<boolean> {
  return (await order.handle.describe()).status.name === 'RUNNING';
}

/** The ApplicationFailure type behind a refused update, 'closed' when the workflow had ended, or the error. */
async function answerOf(order: OrderDriver, err: unknown): Promise<string> {
  let cause: unknown = err;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth++) {
    if (cause instanceof ApplicationFailure && cause.type) return cause.type;
    cause = cause.cause;
  }
  if (!(await isRunning(order))) return 'closed';
  throw err;
}

const recentWorkflowIds: string[] = [];

interface Run {
  expected: Expected;
  reached: boolean;
  answers: string[];
  workflowStatus: string;
  outcome: OrderOutcome | undefined;
  error: unknown;
}

/** Drives one order through a scenario. The model tells it only what a client could know anyway. */
async function drive(harness: WorkflowHarness, s: Scenario, orderId: string): Promise<Run> {
  const workflowId = orderWorkflowId(orderId);
  const plan = harness.faults;
  const gates: Gate[] = [];
  const m = s.moment;
  let gate: Gate | undefined;
  if (m?.kind === 'step' || m?.kind === 'confirm') {
    gate = new Gate();
    gates.push(gate);
    const activity = FORWARD_ACTIVITY[m.kind === 'step' ? m.step : 'confirm'];
    const landing = m.kind === 'step' ? m.landing : 'before';
    plan.inject({ activity, workflowId, fault: faults.gate(gate, { afterEffect: landing === 'after', ignoreCancel: landing === 'completes' }) });
  }
  if (s.failure) {
    const { activity, type } = FAILURE_OF[s.failure];
    plan.inject({ activity, workflowId, calls: 'every', fault: faults.business(type) });
  }
  for (const undo of s.undoFailures) plan.inject({ activity: undo, workflowId, calls: 'every', fault: faults.business(UNDO_FAILURE_TYPE[undo]) });
  if (s.retryable) {
    const { activity, call, afterEffect } = s.retryable;
    plan.inject({ activity, workflowId, calls: [call], fault: faults.retryable('injected transient failure', { afterEffect }) });
  }

  // What a client knows: whether the cancels are taken follows from the order's status and the reasons.
  // The model says so (delivery siblings play no part before the cancels).
  const expected = expectedRun(s, { completed: () => false });
  const order = await harness.startOrder({ orderId, items: s.items });
  recentWorkflowIds.push(workflowId);
  const answers: string[] = [];
  let reached = false;
  let workflowCancelSent = false;

  const sendCancels = async (): Promise<void> => {
    reached = true;
    for (const [i, c] of s.cancels.entries()) {
      if (c.via === 'workflow') {
        workflowCancelSent = true;
        answers.push(await order.handle.cancel().then(() => 'sent', (err: unknown) => answerOf(order, err)));
      } else if (c.via === 'update') {
        const reason = c.reason === 'default' ? {} : { reason: reasonText(c.reason, i) };
        answers.push(await order.handle.executeUpdate(cancelOrderUpdate, { args: [reason] }).then(() => 'accepted', (err: unknown) => answerOf(order, err)));
      } else {
        const reason = c.reason === 'default' ? {} : { reason: reasonText(c.reason, i) };
        answers.push(await order.handle.signal(cancelOrderSignal, reason).then(() => 'sent', (err: unknown) => answerOf(order, err)));
      }
    }
  };

  if (m?.kind === 'draft') await sendCancels();
  if (s.submit) await order.submit();

  if (gate) {
    const g = gate;
    let entered = false;
    void g.entered.then(() => (entered = true));
    const at = await until('the gated step or the end', async () => (entered ? 'gate' : (await isRunning(order)) ? undefined : 'ended'));
    if (at === 'gate') {
      await sendCancels();
      const cancelled = expected.cancelTaken || expected.workflowCancelled;
      const landing = m?.kind === 'step' ? m.landing : 'before';
      if (!cancelled) g.release();
      else if (m?.kind === 'confirm') {
        // The confirmation is not waited for when cancelled (the workflow moves on at once). Wait until
        // the activity learned of its cancellation: reported after the workflow ended, it would stay
        // open on the test server, and an activity open there stops time skipping for every later run.
        // (Letting it finish instead races the workflow task that cancels it, which the test server
        // does not survive: that workflow task never completes.)
        await Promise.race([g.cancelRequested, sleep(WAIT_MS)]);
      } else if (landing === 'completes') {
        // Let the step finish once the cancel reached it: it completes after the cancel was taken.
        await Promise.race([g.cancelRequested, sleep(WAIT_MS)]);
        g.release();
      }
      // Otherwise the gate stays shut: the activity must end by its cancellation.
    }
  }
  const untilConfirmed = () =>
    until('status confirmed or the end', async () => {
      if (!(await isRunning(order))) return 'ended';
      return (await order.state()).status === 'confirmed' ? 'confirmed' : undefined;
    });
  if (m?.kind === 'awaiting_delivery' && (await untilConfirmed()) === 'confirmed') await sendCancels();
  if (s.delivered && !workflowCancelSent && expected.confirmedReached && (await untilConfirmed()) === 'confirmed') await order.delivered();

  // Only now await the result: the server skips time (the draft's 24 h, the delivery's 14 days) meanwhile.
  let outcome: OrderOutcome | undefined;
  let error: unknown;
  const settled = await Promise.race([
    order.result().then(
      (value) => ((outcome = value), true),
      (err: unknown) => ((error = err), true),
    ),
    sleep(WAIT_MS).then(() => false),
  ]);
  for (const g of gates) g.release();
  if (!settled) {
    const recent = await Promise.all(
      recentWorkflowIds.slice(-4).map(async (id) => {
        const d = await harness.client.workflow.getHandle(id).describe();
        return `${id}: ${d.status.name}, pending activities ${JSON.stringify(d.raw.pendingActivities?.map((a) => [a.activityType?.name, a.state, a.attempt]))}`;
      }),
    );
    const self = await order.handle.describe();
    console.log(`saga model: hung run ${orderId}: pending ${JSON.stringify(self.raw.pendingActivities?.map((a) => [a.activityType?.name, a.state]))}, recent: ${recent.join('; ')}`);
    await order.handle.terminate('saga-model: the run hung').catch(() => undefined);
    error = new Error(`the workflow did not end within ${WAIT_MS} ms`);
  }
  await harness.doubles.log.idle(WAIT_MS);
  const workflowStatus = (await order.handle.describe()).status.name;
  // An activity the server still counts as open would stop time skipping for the runs after this one.
  const open = await until('no activity left open', async () => {
    const pending = (await order.handle.describe()).raw.pendingActivities ?? [];
    return pending.length === 0 ? [] : undefined;
  }, 3_000).catch(() => undefined);
  if (!open && error === undefined) error = new Error('an activity is still open on the server after the workflow ended');
  return { expected, reached, answers, workflowStatus, outcome, error };
}

/** The doubles' records of an order in the shape of the real services' rows. */
function rowsOf(harness: WorkflowHarness, orderId: string): OrderRows {
  const d = harness.doubles;
  const reservation = d.inventory.reservations.get(`res-${orderId}`);
  const payment = d.payments.payments.get(`pay-${orderId}`);
  const shipment = d.shipping.shipments.get(`ship-${orderId}`);
  return {
    ...(reservation ? { reservation: { status: reservation.status, order_id: reservation.orderId } } : {}),
    ...(payment ? { payment: { status: payment.status, amount_minor: payment.amount ? String(payment.amount.amountMinor) : null } } : {}),
    ...(shipment ? { shipment: { status: shipment.status, order_id: shipment.orderId } } : {}),
  };
}

/** Every way the run departs from the model and the invariant (empty: it holds). */
async function violations(harness: WorkflowHarness, s: Scenario, orderId: string, run: Run): Promise<string[]> {
  const problems: string[] = [];
  const workflowId = orderWorkflowId(orderId);
  const log = harness.doubles.log;
  const completed = (activity: ActivityName) => log.of(activity, workflowId).some((c) => c.outcome === 'completed');
  const model = expectedRun(s, { completed });
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  const show = (v: unknown) => JSON.stringify(v);

  if (run.error !== undefined && !(run.error instanceof WorkflowFailedError && model.workflowStatus === 'CANCELLED')) {
    problems.push(`the workflow's result: ${String(run.error)}${run.error instanceof Error && run.error.cause ? ` (cause: ${String(run.error.cause)})` : ''}`);
  }
  check(run.workflowStatus === model.workflowStatus, `workflow ended ${run.workflowStatus}, model says ${model.workflowStatus}`);

  // The cancels: sent when the model says the moment comes, answered as the rules say.
  check(run.reached === model.reached, `moment of the cancels ${run.reached ? '' : 'not '}reached, model says ${model.reached ? '' : 'not '}reached`);
  if (model.reached) {
    const answers = model.answers.map((a: Answer, i): string => {
      const observed = run.answers[i];
      const via = s.cancels[i]?.via;
      if (via !== 'update') return observed === 'closed' && i > 0 ? 'closed' : 'sent';
      // A repeat of a taken cancel may find the workflow already ended.
      if (i > 0 && observed === 'closed' && a === 'accepted' && model.answers.slice(0, i).some((b) => b === 'accepted' || b === 'taken' || b === 'sent')) return 'closed';
      return a;
    });
    check(show(run.answers) === show(answers), `cancel answers ${show(run.answers)}, model says ${show(answers)}`);
  }

  // The event log: versions without gaps, exactly the model's sequence.
  const stored = harness.doubles.eventStore.events(orderId);
  check(
    stored.every((e, i) => e.version === i + 1),
    `versions ${show(stored.map((e) => e.version))}`,
  );
  const types = stored.map((e) => e.type as string);
  check(show(types) === show(model.events), `events ${show(types)}, model says ${show(model.events)}`);
  const state: OrderState = orderStateFrom(stored.map((e) => toOrderEvent(e)));
  check(state.status === model.status, `folded status ${state.status}, model says ${model.status}`);
  if (run.outcome) {
    check(run.outcome.status === state.status && run.outcome.version === state.version, `result ${run.outcome.status} v${run.outcome.version}, log ${state.status} v${state.version}`);
  }
  check((state.failure?.step ?? null) === model.failureStep, `failure.step ${show(state.failure?.step ?? null)}, model says ${show(model.failureStep)}`);
  const reason = model.failureReason;
  if (reason && state.failure) {
    check('exact' in reason ? state.failure.reason === reason.exact : state.failure.reason.startsWith(reason.prefix), `failure.reason ${show(state.failure.reason)}, model says ${show(reason)}`);
  }
  check(state.cancellationReason === model.cancellationReason, `cancellationReason ${show(state.cancellationReason)}, model says ${show(model.cancellationReason)}`);
  check(show([...state.unsettled].sort()) === show([...model.unsettled].sort()), `unsettled ${show(state.unsettled)}, model says ${show(model.unsettled)}`);

  // The calls: no step started after a cancel, the undos of exactly the started steps, last first.
  for (const [step, comp] of [['reserve', 'inventory'], ['capture', 'payment'], ['ship', 'shipment']] as const) {
    const called = log.of(FORWARD_ACTIVITY[step], workflowId).length > 0;
    check(called === model.started.includes(comp), `${FORWARD_ACTIVITY[step]} ${called ? '' : 'not '}called, model says ${model.started.includes(comp) ? '' : 'not '}started`);
  }
  const confirmationCalled = log.of('sendOrderConfirmation', workflowId).length > 0;
  check(confirmationCalled === model.confirmationCalled, `sendOrderConfirmation ${confirmationCalled ? '' : 'not '}called, model says ${model.confirmationCalled ? '' : 'not '}called`);
  const undoCalls = log.calls
    .filter((c) => c.workflowId === workflowId && (c.activity === 'releaseInventory' || c.activity === 'refundPayment' || c.activity === 'cancelShipment'))
    .map((c) => c.activity)
    .filter((a, i, all) => i === 0 || all[i - 1] !== a);
  check(show(undoCalls) === show(model.undoCalls), `undo calls ${show(undoCalls)}, model says ${show(model.undoCalls)}`);
  for (const [comp, fails] of Object.entries(model.undoFails)) {
    const calls = log.of(UNDO_OF[comp as keyof typeof UNDO_OF], workflowId);
    const last = calls[calls.length - 1];
    check(last?.outcome === (fails ? 'failed' : 'completed'), `${UNDO_OF[comp as keyof typeof UNDO_OF]} ended ${last?.outcome}, model says ${fails ? 'failed' : 'completed'}`);
  }

  // The services: the shared invariant (nothing held unless delivered or on record as unsettled)...
  const rows = rowsOf(harness, orderId);
  // A step whose activity reported its cancellation after the service had done the work is not in the
  // log (the workflow cannot know of it), though its undo ran: the shared invariant's "in the log"
  // checks do not apply to that one step; "nothing held" still does.
  const m = s.moment;
  const unrecordedStep = m?.kind === 'step' && m.landing === 'after' && (model.cancelTaken || model.workflowCancelled) ? m.step : undefined;
  const unrecordedNotes: Record<string, RegExp> = {
    reserve: /^reservation \w+ but never recorded$/,
    capture: /^(charged, but the log has no PaymentCaptured|refunded, but the log has no PaymentRefunded)$/,
    ship: /^shipment \w+, but the log has no ShipmentCreated$/,
  };
  for (const problem of invariantViolations(state, types, rows)) {
    if (unrecordedStep && unrecordedNotes[unrecordedStep]?.test(problem)) continue;
    // Sold stock is what an unsettled inventory step holds when the delivery's commit went ahead of a
    // failed markDelivered (the shared check predates unsettled steps there); it is on record.
    problems.push(`invariant: ${problem}`);
  }
  // ...money balanced and charged at most once...
  const total = state.total?.amountMinor ?? 0;
  const { payments, reservations, shipments } = harness.doubles.serviceState(workflowId);
  check(payments.length <= 1 && reservations.length <= 1 && shipments.length <= 1, `records: ${payments.length} payments, ${reservations.length} reservations, ${shipments.length} shipments`);
  const net = payments.reduce((sum, p) => sum + (p.status === 'captured' ? (p.amount?.amountMinor ?? 0) : 0), 0);
  // An unsettled payment is one whose refund could not be done: charged, or never charged at all.
  const owed = state.status === 'delivered' ? [total] : state.unsettled.includes('payment') ? [0, total] : [0];
  check(owed.includes(net), `net charge ${net}, expected ${owed.join(' or ')}`);
  // ...and stock where the reservation says it is.
  for (const { sku, quantity } of s.items) {
    const level = harness.doubles.inventory.stock.get(sku);
    const status = reservations[0]?.status;
    const held = { reserved: status === 'reserved' ? quantity : 0, sold: status === 'committed' ? quantity : 0 };
    const want = { available: DEFAULT_STOCK - held.reserved - held.sold, ...held };
    check(show(level) === show(want), `stock of ${sku} ${show(level)}, expected ${show(want)}`);
  }
  return problems;
}

/**
 * Replays each run's history on a worker of its own, beside the test's workers: a worker restarted at
 * any point of the run would replay a prefix of it, so a non-determinism shows up here. One replay
 * worker serves every run (starting one per history costs more than the run).
 */
class Replayer {
  private readonly queue: (HistoryAndWorkflowId | undefined)[] = [];
  private waiting: ((next: HistoryAndWorkflowId | undefined) => void) | undefined;
  private readonly results: AsyncIterableIterator<ReplayResult>;

  constructor() {
    const codePath = process.env[WORKFLOW_BUNDLE_ENV];
    const options = { ...(codePath ? { workflowBundle: { codePath } } : { workflowsPath: WORKFLOWS_PATH }), dataConverter: temporalDataConverter() };
    const take = (): Promise<HistoryAndWorkflowId | undefined> =>
      this.queue.length > 0 ? Promise.resolve(this.queue.shift()) : new Promise((resolve) => (this.waiting = resolve));
    async function* feed(): AsyncIterable<HistoryAndWorkflowId> {
      for (let next = await take(); next; next = await take()) yield next;
    }
    this.results = Worker.runReplayHistories(options, feed());
  }

  private put(next: HistoryAndWorkflowId | undefined): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(next);
    else this.queue.push(next);
  }

  /** The replay's failure, or undefined when the history replays. */
  async violation(handle: OrderDriver['handle']): Promise<string | undefined> {
    this.put({ workflowId: handle.workflowId, history: await handle.fetchHistory() });
    // Results come in the order the histories went in (next() calls queue up).
    const result = await this.results.next();
    if (result.done) return 'replay: the replay worker stopped';
    return result.value.error ? `replay: ${String(result.value.error)}` : undefined;
  }

  async close(): Promise<void> {
    this.put(undefined);
    for (let r = await this.results.next(); !r.done; r = await this.results.next());
  }
}

describe('the order saga against a model of its rules (fast-check, time-skipping server)', () => {
  const harness = useWorkflowHarness();

  it(`holds for ${RUNS} generated runs of cancels, failures, undos that fail, retries and deliveries`, async () => {
    // Chosen here (not by fast-check) so that a replay failure, found after the runs, can name it too.
    const seed = SEED ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0;
    let runs = 0;
    const started = Date.now();
    const replayer = new Replayer();
    // Each history replays beside the next runs (on the replay worker's thread); checked after them.
    const replays: Promise<string | undefined>[] = [];
    try {
      await fc.assert(
        fc.asyncProperty(scenarios, async (s) => {
          const index = runs++;
          const orderId = `o-${randomUUID()}`;
          try {
            const run = await drive(harness, s, orderId);
            const problems = await violations(harness, s, orderId, run);
            if (problems.length > 0) {
              const calls = harness.doubles.log.calls
                .filter((c) => c.workflowId === orderWorkflowId(orderId))
                .map((c) => `${c.activity}#${c.call}:${c.outcome}${c.error ? `(${c.error})` : ''}`);
              throw new Error(
                `order ${orderId} departs from the model:\n  - ${problems.join('\n  - ')}\nevents: ${JSON.stringify(harness.doubles.eventStore.eventTypes(orderId))}\ncalls: ${JSON.stringify(calls)}`,
              );
            }
            const path = PATH ?? String(index);
            replays.push(
              replayer.violation(harness.client.workflow.getHandle(orderWorkflowId(orderId))).then((problem) =>
                problem === undefined
                  ? undefined
                  : `run ${index} (seed ${seed}, path ${path}; rerun with SAGA_MODEL_SEED=${seed} SAGA_MODEL_PATH=${path}), scenario ${JSON.stringify(s)}: ${problem}`,
              ),
            );
          } finally {
            harness.doubles.clear();
          }
        }),
        { numRuns: RUNS, seed, ...(PATH === undefined ? {} : { path: PATH }), endOnFailure: !SHRINK },
      );
      const failedReplays = (await Promise.all(replays)).filter((problem) => problem !== undefined);
      if (failedReplays.length > 0) throw new Error(`histories that do not replay:\n  - ${failedReplays.join('\n  - ')}`);
    } finally {
      await Promise.allSettled(replays);
      await replayer.close();
    }
    console.log(`saga model: ${runs} runs (seed ${seed}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 15 * 60_000);
});
