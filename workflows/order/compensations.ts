import { log } from '@temporalio/workflow';
import type { CompensableStep } from '../../domain';

interface Compensation {
  /** Undoes the step in its service; retried by Temporal until it succeeds or fails for good. */
  undo(reason: string): Promise<unknown>;
  /** Records the undo in the order's log, when the order holds the step. */
  record(reason: string): Promise<unknown>;
}

/**
 * The undo actions of the steps the saga has started, registered before each step runs. Run them
 * inside CancellationScope.nonCancellable: a cancelled workflow must still undo everything.
 */
export class Compensations {
  private readonly registered: { step: CompensableStep; compensation: Compensation }[] = [];

  register(step: CompensableStep, compensation: Compensation): void {
    this.registered.push({ step, compensation });
  }

  private lastFirst(): { step: CompensableStep; compensation: Compensation }[] {
    return [...this.registered].reverse();
  }

  /**
   * Undoes every step, last first; an undo that fails for good is handed to onFailure and the others
   * still run, so one impossible undo never keeps stock or a charge held elsewhere.
   */
  async runEach(reason: string, onFailure: (step: CompensableStep, err: unknown) => Promise<void>): Promise<void> {
    for (const { step, compensation } of this.lastFirst()) {
      try {
        await compensation.undo(reason);
      } catch (err) {
        await onFailure(step, err);
        continue;
      }
      // The service's undo stands even if its record fails (a refused append is surfaced by the ledger).
      await compensation.record(reason).catch((err: unknown) => log.error('an undo could not be recorded', { step, err }));
    }
  }

  /** The first version's way: one after another, the first failure stopping the rest. */
  async runInReverse(reason: string): Promise<void> {
    for (const { compensation } of this.lastFirst()) {
      await compensation.undo(reason);
      await compensation.record(reason);
    }
  }
}
