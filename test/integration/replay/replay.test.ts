import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, bundleWorkflowCode, type ReplayResult } from '@temporalio/worker';
import { workflowBundle } from '../../support/temporal';
import { PATCHES } from '../../../workflows/order/order-workflow';
import { temporalDataConverter } from '../../../infra/temporal';
import { AesGcmPayloadCodec, isEncrypted, parseKeyList } from '../../../infra/codec/payload-codec';

const REPLAY_DIR = path.resolve(__dirname, '..', '..', 'replay');

// The encrypted/ histories were recorded with payloads encrypted by a test-only key kept beside them;
// the older ones were recorded plain, and the codec passes their payloads through as they are.
const ENCRYPTED_DIR = path.join(REPLAY_DIR, 'encrypted');
const replayCodec = new AesGcmPayloadCodec({ keys: parseKeyList(readFileSync(path.join(ENCRYPTED_DIR, 'codec-keys'), 'utf8'), 'test/replay/encrypted/codec-keys') });
const dataConverter = temporalDataConverter({ codec: replayCodec });


// Histories recorded by each version of the workflow: the first at the top, later ones in a folder each.
const VERSION_DIRS = [
  REPLAY_DIR,
  ...readdirSync(REPLAY_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.join(REPLAY_DIR, entry.name))
    .sort(),
];
const SCENARIO_FILES = ['cancel-during-payment', 'card-declined', 'delivery-timeout', 'happy-path', 'out-of-stock', 'shipment-failure'].map(
  (n) => `${n}.json`,
);

// Histories are passed as the JSON `temporal workflow show --output json` prints; the replayer parses it.
function loadHistories(): { workflowId: string; history: unknown }[] {
  return VERSION_DIRS.flatMap((dir) =>
    readdirSync(dir)
      .filter((file) => file.endsWith('.json'))
      .sort()
      .map((file) => {
        const { workflowId, history } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
          workflowId: string;
          history: unknown;
        };
        return { workflowId, history };
      }),
  );
}

interface RecordedEvent {
  markerRecordedEventAttributes?: { markerName?: string; details?: { 'patch-data'?: { payloads?: { data?: string }[] } } };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
}

/** The patches a history recorded (their ids are inside base64 payloads) and the activities it scheduled. */
function recorded(file: string): { patches: string[]; activities: string[] } {
  const { history } = JSON.parse(readFileSync(file, 'utf8')) as { history: { events: RecordedEvent[] } };
  const patches = history.events.flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : undefined;
    return data ? [(JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id] : [];
  });
  const activities = history.events.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
  return { patches, activities };
}

async function replayAll(options: Parameters<typeof Worker.runReplayHistories>[0]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const result of Worker.runReplayHistories(options, loadHistories())) results.push(result);
  return results;
}

describe('replay of recorded order histories (determinism guard)', () => {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

  it('has a history for every representative run, for each recorded version of the workflow', () => {
    expect(VERSION_DIRS.length).toBeGreaterThanOrEqual(2);
    for (const dir of VERSION_DIRS) {
      const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      expect({ dir, files: files.sort() }).toEqual({ dir, files: SCENARIO_FILES });
    }
  });

  it('replays every recorded history with the current workflow code', async () => {
    const results = await replayAll({ workflowBundle: await workflowBundle(), dataConverter });
    expect(results.length).toBe(SCENARIO_FILES.length * VERSION_DIRS.length);
    for (const result of results) {
      expect({ workflowId: result.workflowId, error: result.error?.message }).toEqual({ workflowId: result.workflowId, error: undefined });
    }
  }, 120_000);

  it('proves the patched() changes: histories from before them still replay, new runs take the new paths', () => {
    // happy-path.json was recorded before PATCHES.deliverInParallel and the publishing patches existed.
    const first = recorded(path.join(REPLAY_DIR, 'happy-path.json'));
    expect(first.patches).toEqual([]);
    expect(first.activities).toContain('markDelivered');
    // (It replays with the current code in the test above; the saga test checks that new runs record the markers.)
    // The publish-with-append version took the new paths, and its happy path ran no publishing activity.
    const current = recorded(path.join(REPLAY_DIR, PATCHES.publishWithAppend, 'happy-path.json'));
    expect(current.patches.sort()).toEqual([PATCHES.deliverInParallel, PATCHES.publishWithAppend].sort());
    expect(current.activities).toContain('appendOrderEvents');
    expect(current.activities).not.toContain('publishOrderEvents');
    // The cancel-safe saga's histories: the publish-with-append ones did not take its path, these do,
    // and their cancel arrived as the cancelOrder update.
    expect(current.patches).not.toContain(PATCHES.cancelSafeSaga);
    const cancelSafe = recorded(path.join(REPLAY_DIR, PATCHES.cancelSafeSaga, 'happy-path.json'));
    expect(cancelSafe.patches.sort()).toEqual([PATCHES.cancelSafeSaga, PATCHES.deliverInParallel, PATCHES.publishWithAppend].sort());
    // The local-activities histories append and look up the catalog beside the workflow: no such activity scheduled.
    const local = recorded(path.join(REPLAY_DIR, PATCHES.localActivities, 'happy-path.json'));
    expect(local.patches).toContain(PATCHES.localActivities);
    expect(local.activities).toContain('reserveInventory');
    expect(local.activities).not.toContain('appendOrderEvents');
    expect(local.activities).not.toContain('getProduct');
    const cancelled = readFileSync(path.join(REPLAY_DIR, PATCHES.cancelSafeSaga, 'cancel-during-payment.json'), 'utf8');
    expect(cancelled).toContain('"cancelOrder"');
    expect(cancelled).toContain('workflowExecutionUpdateAcceptedEventAttributes');
  });

  it('the input of an encrypted history is ciphertext, which replay needs the codec to read', async () => {
    const { history } = JSON.parse(readFileSync(path.join(ENCRYPTED_DIR, 'happy-path.json'), 'utf8')) as { history: { events: Record<string, unknown>[] } };
    const input = (history.events[0]?.workflowExecutionStartedEventAttributes as { input: { payloads: { metadata: Record<string, string>; data: string }[] } }).input.payloads[0]!;
    const payload = { metadata: Object.fromEntries(Object.entries(input.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(input.data, 'base64') };
    expect(isEncrypted(payload)).toBe(true);
    expect(Buffer.from(input.data, 'base64').toString('latin1')).not.toMatch(/customerId/);
    const [decoded] = await replayCodec.decode([payload]);
    expect(Buffer.from(decoded!.data!).toString('utf8')).toMatch(/"customerId"/);
    // Without the codec the workflow cannot read its input: the replay fails.
    const plain = Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, [{ workflowId: 'encrypted', history }]);
    for await (const result of plain) expect(result.error).toBeDefined();
  }, 60_000);

  it('fails replay for a non-deterministic change to the workflow', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../replay/nondeterministic-workflows'),
      logger: quiet,
    });
    const results = await replayAll({ workflowBundle: bundle, dataConverter });
    expect(results.length).toBe(SCENARIO_FILES.length * VERSION_DIRS.length);
    for (const result of results) expect(result.error).toBeInstanceOf(DeterminismViolationError);
  }, 120_000);
});
