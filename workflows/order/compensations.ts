import type { CompensableStep } from '../../domain';

type Undo = (reason: string) => Promise<void>;

/**
 * The undo actions of the steps the saga has started, registered before each step runs. Run them
 * inside CancellationScope.nonCancellable: a cancelled workflow must still undo everything.
 */
export class Compensations {
  private readonly registered: { step: CompensableStep; undo: Undo }[] = [];

  register(step: CompensableStep, undo: Undo): void {
    this.registered.push({ step, undo });
  }

  /** Undoes the steps, last first. Each undo retries until it succeeds (see the activity options). */
  async runInReverse(reason: string): Promise<void> {
    for (const { undo } of [...this.registered].reverse()) await undo(reason);
  }
}
