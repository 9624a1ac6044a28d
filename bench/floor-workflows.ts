import { condition, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

/** The Temporal floor for bench:saga: the order saga's shape with no work in it. */
export const floorUpdate = defineUpdate<number, []>('floorUpdate');
export const floorSignal = defineSignal<[]>('floorSignal');

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function floorWorkflow(activities: number): Promise<number> {
  let updates = 0;
  let signalled = false;
  setHandler(floorUpdate, async () => {
    await noop();
    return ++updates;
  });
  setHandler(floorSignal, () => {
    signalled = true;
  });
  await condition(() => updates >= 2);
  for (let i = 0; i < activities; i++) await noop();
  await condition(() => signalled);
  return updates;
}
