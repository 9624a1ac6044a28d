import { readFileSync } from 'node:fs';
import path from 'node:path';

const REPO_DIR = path.resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(path.join(REPO_DIR, file), 'utf8');
const major = (version: string): number => Number(/(\d+)/.exec(version)?.[1]);

describe('one Node version everywhere (.nvmrc)', () => {
  const pinned = read('.nvmrc').trim();
  const pkg = JSON.parse(read('package.json')) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };

  it('pins an exact release', () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('is the Node that runs this test', () => {
    expect(process.versions.node).toMatch(new RegExp(`^${major(pinned)}\\.`));
  });

  it('agrees with engines, @types/node and the Docker image', () => {
    expect(pkg.engines.node).toBe(`>=${major(pinned)}`);
    expect(major(pkg.devDependencies['@types/node'] ?? '')).toBe(major(pinned));
    expect(read('Dockerfile')).toMatch(new RegExp(`^FROM node:${major(pinned)}-`, 'm'));
  });

  it("is what the README's quick start runs, through ./run", () => {
    const readme = read('README.md');
    expect(readme).toContain('./run npm ci && ./run npm start');
    expect(readme).toContain('./run npm ci && ./run npm test');
    expect(read('.ci/run')).toMatch(/^\.\/run npm ci\b.*\n\.\/run npm test\n/m);
  });
});
