import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { reloadConfig } from '../../../config';
import { startApiStack, type ApiStack } from '../../support/api-stack';

const run = promisify(execFile);

/**
 * The contract test: schemathesis generates requests from /openapi.json (valid and invalid ones, every
 * phase, every check) and runs them against the real API, as an operator, as a customer and without a
 * key. Any failure (a 5xx, an undocumented status, a response off its schema, valid data refused,
 * invalid data taken, no 405...) fails the test.
 *
 * Schemathesis comes from PyPI at a pinned version, into a virtualenv outside the clone that later
 * runs reuse. The seed is pinned (CONTRACT_SEED overrides it) and every run prints how to rerun it.
 */
const SCHEMATHESIS_VERSION = '4.32.5';
const SEED = Number(process.env.CONTRACT_SEED ?? 20261201);
// Examples per operation and phase: keeps the three runs to about three minutes on two cores.
const MAX_EXAMPLES = Number(process.env.CONTRACT_MAX_EXAMPLES ?? 10);
const CONFIG_FILE = path.resolve(__dirname, '../../contract/schemathesis.toml');

const artifactDir = (): string => process.env.ORDERS_ARTIFACT_DIR ?? path.join(os.homedir(), '.cache', 'orders-on-temporal');

/** The st binary of a pinned schemathesis, installed once (a marker says the install completed). */
async function schemathesis(): Promise<string> {
  const dir = path.join(artifactDir(), `schemathesis-${SCHEMATHESIS_VERSION}`);
  const st = path.join(dir, 'bin', 'st');
  const done = path.join(dir, '.installed');
  if (existsSync(done)) return st;
  mkdirSync(artifactDir(), { recursive: true });
  const lock = `${dir}.lock`;
  // Another clone may be installing it: wait for its lock (a directory, made atomically) to go.
  for (let waited = 0; ; waited += 1000) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(done)) return st;
      if (waited > 300_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  try {
    if (existsSync(done)) return st;
    rmSync(dir, { recursive: true, force: true });
    try {
      await run('python3', ['-m', 'venv', dir]);
    } catch (err) {
      throw new Error(`python3 -m venv failed (on Debian: apt-get install -y python3-venv): ${(err as Error).message}`);
    }
    await run(path.join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], {
      maxBuffer: 16 * 1024 * 1024,
    });
    writeFileSync(done, `${SCHEMATHESIS_VERSION}\n`);
    return st;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

describe('the API keeps the contract it publishes (schemathesis, every check)', () => {
  let stack: ApiStack;
  let st: string;

  beforeAll(async () => {
    // Generated requests come fast: the per-key limit (a production guard) would answer most with 429.
    process.env.API_RATE_LIMIT_PER_MINUTE = '100000000';
    reloadConfig();
    st = await schemathesis();
    stack = await startApiStack();
  }, 600_000);
  afterAll(() => stack?.stop());

  const principals = [
    ['an operator', () => stack.tokens.operator],
    ['a customer', () => stack.tokens.alice],
    ['no key', () => undefined],
  ] as const;

  it.each(principals)('as %s: no failures', async (who, token) => {
    const key = token();
    const args = [
      '--config-file', CONFIG_FILE,
      'run', `${stack.api.url}/openapi.json`,
      '--checks', 'all',
      '--max-examples', String(MAX_EXAMPLES),
      '--seed', String(SEED),
      '--workers', '2',
      '--generation-database', 'none',
      '--no-color',
      ...(key ? ['--header', `Authorization: Bearer ${key}`] : []),
    ];
    const started = Date.now();
    let output: string;
    let failed = false;
    try {
      ({ stdout: output } = await run(st, args, { cwd: artifactDir(), maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }));
    } catch (err) {
      failed = true;
      output = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    }
    const rerun =
      `CONTRACT_SEED=${SEED} CONTRACT_MAX_EXAMPLES=${MAX_EXAMPLES} npx jest test/integration/contract --runInBand -t '${who}'` +
      `\n  (or against a running API: ${st} ${args.map((a) => (a.startsWith('Authorization') ? "'Authorization: Bearer <key>'" : a)).join(' ')})`;
    console.log(`schemathesis as ${who}: ${failed ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(0)} s, seed ${SEED}\n  rerun: ${rerun}`);
    if (failed) console.log(output.slice(-20_000));
    expect({ who, failed }).toEqual({ who, failed: false });
    expect(output).toMatch(/\d+ passed/);
  }, 900_000);
});
