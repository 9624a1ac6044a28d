/**
 * Temporal's OpenTelemetry interceptors for our clients and workers, when tracing is on (infra/tracing.ts);
 * with it off, none are installed. The workflow interceptors are bundled into the workflow code
 * (WORKFLOW_INTERCEPTOR_MODULES), the workflow spans leave the sandbox through the `exporter` sink.
 */
import type { ClientInterceptors } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInboundCallsInterceptor, ActivityExecuteInput, Next, WorkerOptions } from '@temporalio/worker';
import type { Context as ActivityContext } from '@temporalio/activity';
import { ORDER_ID_ATTRIBUTE, installedTracing, trace, tracingEnabled } from './tracing';

export const WORKFLOW_TRACING_INTERCEPTORS = require.resolve('../workflows/tracing-interceptors');

/** The workflow interceptor modules a bundle for processes with `env` needs: the tracing ones when tracing is on. */
export function workflowInterceptorModules(env: NodeJS.ProcessEnv = process.env): string[] {
  return tracingEnabled(env) ? [WORKFLOW_TRACING_INTERCEPTORS] : [];
}

/** The client's interceptors: a span per workflow start, update, signal and query, its context in the headers. */
export function temporalClientInterceptors(): ClientInterceptors | undefined {
  return installedTracing() ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/** Runs inside the OpenTelemetry activity span: puts the order id on it. */
class OrderIdActivityInbound implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: ActivityContext) {}
  execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const workflowId = this.ctx.info.workflowExecution?.workflowId ?? '';
    if (workflowId.startsWith('order-')) trace.getActiveSpan()?.setAttribute(ORDER_ID_ATTRIBUTE, workflowId.slice('order-'.length));
    return next(input);
  }
}

/**
 * Worker options for tracing: activity spans, the workflow span sink, and the workflow interceptors when
 * the worker bundles its workflow code itself (a prebuilt bundle has them from workflowInterceptorModules).
 */
export function temporalWorkerTracing(options: { bundles: boolean }): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  const tracing = installedTracing();
  // A bundle made with tracing on (a container image's, say) run with it off: its spans go nowhere, quietly.
  if (!tracing) return { sinks: { exporter: { export: { fn: () => undefined } } } };
  return {
    interceptors: {
      client: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
      // The OpenTelemetry interceptor first: ours runs within its span.
      activity: [
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
        (ctx) => ({ inbound: new OrderIdActivityInbound(ctx) }),
      ],
      ...(options.bundles ? { workflowModules: [WORKFLOW_TRACING_INTERCEPTORS] } : {}),
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
