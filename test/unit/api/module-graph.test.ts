import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The modules a plain Node process has loaded after requiring `entry` (with tsx, as `npm run api` does):
 * jest's own module registry is not Node's require.cache, so the check runs in a child process.
 */
function loadedModules(entry: string): string[] {
  const script = `require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return (JSON.parse(out) as string[]).map((file) => path.relative(ROOT, file).split(path.sep).join('/'));
}

describe("the API process's module graph", () => {
  let modules: string[];
  beforeAll(() => {
    modules = loadedModules('./api/main.ts');
  });

  it('is what api/main.ts loads (and api/server.ts with it)', () => {
    expect(modules).toContain('api/main.ts');
    expect(modules).toContain('api/server.ts');
    expect(modules).toContain('composition/store.ts');
  });

  it('loads no Temporal worker, no worker wiring, no broker publishers and no activities', () => {
    const forbidden = modules.filter(
      (file) =>
        /(^|\/)node_modules\/@temporalio\/worker\//.test(file) ||
        /^(workers|activities)\//.test(file) ||
        /^messaging\/(kafka|rabbitmq)\/[a-z-]+-publisher\.ts$/.test(file) ||
        /^composition\/(publishers|activities)\.ts$/.test(file),
    );
    expect(forbidden).toEqual([]);
  });
});

describe("the supervisor's module graph", () => {
  it('names the worker roles without loading a Temporal worker or the activities', () => {
    const modules = loadedModules('./workers/supervisor.ts');
    expect(modules).toContain('composition/worker-roles.ts');
    const forbidden = modules.filter(
      (file) =>
        /(^|\/)node_modules\/@temporalio\/worker\//.test(file) ||
        /^(activities|messaging|projections)\//.test(file) ||
        /^composition\/(publishers|activities)\.ts$/.test(file),
    );
    expect(forbidden).toEqual([]);
  });
});
