import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, bundleWorkflowCode, type ReplayResult } from '@temporalio/worker';
import { workflowBundle } from '../../support/temporal';
import { PATCHES } from '../../../workflows/order/order-workflow';

const REPLAY_DIR = path.resolve(__dirname, '..', '..', 'replay');

// Histories are passed as the JSON `temporal workflow show --output json` prints; the replayer parses it.
function loadHistories(): { workflowId: string; history: unknown }[] {
  return readdirSync(REPLAY_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const { workflowId, history } = JSON.parse(readFileSync(path.join(REPLAY_DIR, file), 'utf8')) as {
        workflowId: string;
        history: unknown;
      };
      return { workflowId, history };
    });
}

async function replayAll(options: Parameters<typeof Worker.runReplayHistories>[0]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories(options, loadHistories())) results.push(result);
  return results;
}

describe('replay of recorded order histories (determinism guard)', () => {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

  it('has a history for every representative run', () => {
    const files = readdirSync(REPLAY_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(
      ['cancel-during-payment', 'card-declined', 'delivery-timeout', 'happy-path', 'out-of-stock', 'shipment-failure'].map(
        (n) => `${n}.json`,
      ),
    );
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = await replayAll({ workflowBundle: await workflowBundle() });
    expect(results.length).toBe(6);
    for (const result of results) {
      expect({ workflowId: result.workflowId, error: result.error?.message }).toEqual({ workflowId: result.workflowId, error: undefined });
    }
  }, 120_000);

  it('proves the patched() change: histories from before it still replay, new runs take the new path', () => {
    // happy-path.json was recorded before PATCHES.deliverInParallel existed: no marker for it.
    const happy = readFileSync(path.join(REPLAY_DIR, 'happy-path.json'), 'utf8');
    expect(happy).toContain('markDelivered');
    expect(happy).not.toContain(PATCHES.deliverInParallel);
    // (It replays with the current code in the test above; the saga test checks that new runs record the marker.)
  });

  it('fails replay for a non-deterministic change to the workflow', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../replay/nondeterministic-workflows'),
      logger: quiet,
    });
    const results = await replayAll({ workflowBundle: bundle });
    expect(results.length).toBe(6);
    for (const result of results) expect(result.error).toBeInstanceOf(DeterminismViolationError);
  }, 120_000);
});
