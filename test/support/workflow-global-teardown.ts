import { removeWorkflowBundle } from './workflow-global-setup';

export default function workflowGlobalTeardown(): void {
  removeWorkflowBundle();
}
