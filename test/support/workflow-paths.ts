import path from 'node:path';

/** The workflow code the workers register (what workers/temporal-workers.ts calls WORKFLOWS_PATH). */
export const WORKFLOWS_PATH = path.resolve(__dirname, '..', '..', 'workflows');
