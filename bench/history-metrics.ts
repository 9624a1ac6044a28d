/**
 * What one workflow run costs the Temporal server, counted from its event history: history events,
 * workflow tasks and billable actions.
 *
 * Billable actions follow Temporal Cloud's published definition (docs.temporal.io/cloud/actions, read
 * 2026-12), restricted to what an event history shows:
 *  - workflow started (WorkflowExecutionStarted; an Update-with-Start's start too): 1;
 *  - activity started or retried: 1 per attempt (ActivityTaskScheduled, plus attempt - 1 from its
 *    ActivityTaskStarted); heartbeats are billed too but are not in the history (ours: payments only);
 *  - local activities: 1 per workflow task that ran at least one (their MarkerRecorded events share a
 *    workflowTaskCompletedEventId); their retries inside a task are not visible here;
 *  - timer started: 1 (a `condition` with a timeout starts one);
 *  - signal: 1 per WorkflowExecutionSignaled;
 *  - update received by the worker: 1 per WorkflowExecutionUpdateAccepted (rejected updates are billed
 *    too but leave no event; our happy paths have none);
 *  - search-attribute upsert: 1 per UpsertWorkflowSearchAttributes command, except one touching only
 *    TemporalChangeVersion (exempt); attributes given at start are free;
 *  - queries are billed but not in the history: not counted (the bench sends none).
 */
import type { temporal } from '@temporalio/proto';
import { temporal as proto } from '@temporalio/proto';

const E = proto.api.enums.v1.EventType;

export interface HistoryMetrics {
  history_events: number;
  workflow_tasks: number;
  billable_actions: number;
  activities: number;
  local_activity_markers: number;
  search_attribute_upserts: number;
}

export function historyMetrics(history: temporal.api.history.v1.IHistory): HistoryMetrics {
  const events = history.events ?? [];
  let actions = 0;
  let activities = 0;
  let workflowTasks = 0;
  let laMarkers = 0;
  let upserts = 0;
  const tasksWithLocalActivities = new Set<string>();
  for (const event of events) {
    switch (event.eventType) {
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      case E.EVENT_TYPE_TIMER_STARTED:
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        actions++;
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activities++;
        actions++;
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        actions += Math.max(0, (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
        break;
      case E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        workflowTasks++;
        break;
      case E.EVENT_TYPE_MARKER_RECORDED: {
        const attributes = event.markerRecordedEventAttributes;
        if (attributes?.markerName?.includes('local_activity')) {
          laMarkers++;
          tasksWithLocalActivities.add(String(attributes.workflowTaskCompletedEventId ?? event.eventId));
        }
        break;
      }
      case E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
        if (fields.some((name) => name !== 'TemporalChangeVersion')) {
          upserts++;
          actions++;
        }
        break;
      }
      default:
        break;
    }
  }
  actions += tasksWithLocalActivities.size;
  return {
    history_events: events.length,
    workflow_tasks: workflowTasks,
    billable_actions: actions,
    activities,
    local_activity_markers: laMarkers,
    search_attribute_upserts: upserts,
  };
}

/** The mean of each figure over several runs, to one decimal. */
export function meanMetrics(all: readonly HistoryMetrics[]): HistoryMetrics {
  const mean = (pick: (m: HistoryMetrics) => number): number =>
    all.length === 0 ? 0 : Math.round((all.reduce((sum, m) => sum + pick(m), 0) / all.length) * 10) / 10;
  return {
    history_events: mean((m) => m.history_events),
    workflow_tasks: mean((m) => m.workflow_tasks),
    billable_actions: mean((m) => m.billable_actions),
    activities: mean((m) => m.activities),
    local_activity_markers: mean((m) => m.local_activity_markers),
    search_attribute_upserts: mean((m) => m.search_attribute_upserts),
  };
}
