/**
 * The order workflow's interceptors when tracing is on (bundled only then, infra/temporal-tracing.ts):
 * Temporal's OpenTelemetry interceptors, which give the workflow, its update and signal handlers and
 * each activity it schedules a span in the caller's trace, and the order id on each of those spans so
 * that Jaeger finds them by the tag `order.id`. Spans only: no command changes, so histories replay.
 */
import { trace } from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import {
  workflowInfo,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type SignalInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

const ORDER_WORKFLOW_ID_PREFIX = 'order-';

function tagOrder(): void {
  const { workflowId } = workflowInfo();
  if (workflowId.startsWith(ORDER_WORKFLOW_ID_PREFIX)) {
    trace.getActiveSpan()?.setAttribute('order.id', workflowId.slice(ORDER_WORKFLOW_ID_PREFIX.length));
  }
}

/** Runs inside the OpenTelemetry interceptors' spans (it comes after them), so the active span is theirs. */
class OrderIdInbound implements WorkflowInboundCallsInterceptor {
  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
    tagOrder();
    return next(input);
  }
  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
    tagOrder();
    return next(input);
  }
  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>) {
    tagOrder();
    return next(input);
  }
  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>) {
    tagOrder();
    next(input);
  }
}

class OrderIdOutbound implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    tagOrder();
    return next(input);
  }
  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>) {
    tagOrder();
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor(), new OrderIdInbound()],
  outbound: [new OpenTelemetryOutboundInterceptor(), new OrderIdOutbound()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
