import { readFileSync } from 'node:fs';
import { withWorkflowBundle } from '../../../workers/workflow-bundle';

describe('the workflow bundle a supervisor builds once for its order workers', () => {
  it('is written to a file that holds the order workflow, and handed to the children as WORKFLOW_BUNDLE_PATH', async () => {
    const env = await withWorkflowBundle({ SOME: 'thing' });
    expect(env.SOME).toBe('thing');
    const code = readFileSync(env.WORKFLOW_BUNDLE_PATH!, 'utf8');
    expect(code).toContain('orderWorkflow');
    expect(code).toContain('cancel-safe-saga');
  }, 60_000);

  it('keeps a bundle the caller built', async () => {
    expect(await withWorkflowBundle({ WORKFLOW_BUNDLE_PATH: '/prebuilt/bundle.js' })).toEqual({ WORKFLOW_BUNDLE_PATH: '/prebuilt/bundle.js' });
  });
});
