/**
 * Tracing inside the workflow sandbox: Temporal's own OpenTelemetry workflow interceptors, switched on
 * per run by the run's start headers. A run started by a traced client (or by a traced parent, or
 * continued from a traced run) carries the trace context in its `_tracer-data` header: its execution,
 * the activities and children it starts, its signals and updates become spans of that trace. A run
 * started by one of Remedy's Schedules carries the `remedy-scheduled-run-trace` marker instead
 * (core/trace-headers.ts): it is traced too, as the root of a new trace. A run started with neither
 * (tracing off at the client, a Schedule created before the marker, or any run recorded before tracing
 * existed) runs exactly as it would without interceptors: every call passes straight through, without an
 * extra await.
 *
 * Why per run: the interceptors add awaits around every activity and update, and a labeling campaign
 * whose update handler awaits an activity while its main loop starts a timer orders those commands
 * differently with them than without (test/replay.test.ts caught it). The header is in the run's
 * history, so the choice replays the same on every worker, whatever that worker's own settings.
 *
 * Registered in every workflow bundle (workers/workers.ts WORKFLOW_INTERCEPTOR_MODULES).
 */
// The header Temporal's OpenTelemetry interceptors carry the trace context in.
import {
  extractContextFromHeaders,
  instrument,
  TRACE_HEADER,
  UPDATE_ID_ATTR_KEY,
} from '@temporalio/interceptors-opentelemetry/lib/instrumentation.js';
import { SPAN_DELIMITER, SpanName } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type {
  ActivityInput,
  ContinueAsNewInput,
  DisposeInput,
  GetLogAttributesInput,
  GetMetricTagsInput,
  LocalActivityInput,
  Next,
  QueryInput,
  SignalInput,
  SignalWorkflowInput,
  StartChildWorkflowExecutionInput,
  StartNexusOperationInput,
  UpdateInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { SCHEDULED_RUN_TRACE_HEADER } from '../core/trace-headers.js';

type In = WorkflowInboundCallsInterceptor;
type Out = WorkflowOutboundCallsInterceptor;

/**
 * Temporal's inbound interceptor, except that an update handler of a traced run is always wrapped in its
 * span. Temporal's own interceptor asks an SDK flag first, which a new run's worker takes as set, while a
 * replaying worker takes it as set only when the run's history recorded it. A query, or an update its
 * validator refused, is the first to ask in many runs; neither writes a workflow task to history, so the
 * flag is never recorded there. The worker that ran the handler awaited the span's extra steps and a
 * replaying one would not: the update's completion and a timer's cancellation are then in the other
 * order, and the run cannot be replayed (a restarted worker, or a query to a closed or evicted run, fails
 * with "Update machine does not handle this event"). Wrapping always is what every worker of this SDK
 * did on the live run, so replay now agrees with it; test/e2e/operator.test.ts replays such a cycle.
 */
class TracedInbound extends OpenTelemetryInboundInterceptor {
  override async handleUpdate(input: UpdateInput, next: Next<In, 'handleUpdate'>): Promise<unknown> {
    const context = extractContextFromHeaders(input.headers);
    return await instrument({
      tracer: this.tracer,
      spanName: `${SpanName.WORKFLOW_HANDLE_UPDATE}${SPAN_DELIMITER}${input.name}`,
      fn: (span) => {
        span.setAttribute(UPDATE_ID_ATTR_KEY, input.updateId);
        return next(input);
      },
      context,
    });
  }
}

/** One per workflow run: decides at `execute` whether this run is traced. */
class TracingGate implements In, Out, WorkflowInternalsInterceptor {
  private traced: {
    inbound: OpenTelemetryInboundInterceptor;
    outbound: OpenTelemetryOutboundInterceptor;
  } | null = null;

  execute(input: WorkflowExecuteInput, next: Next<In, 'execute'>): Promise<unknown> {
    if (
      input.headers[TRACE_HEADER] !== undefined ||
      input.headers[SCHEDULED_RUN_TRACE_HEADER] !== undefined
    ) {
      this.traced = {
        inbound: new TracedInbound(),
        outbound: new OpenTelemetryOutboundInterceptor(),
      };
    }
    return this.traced ? this.traced.inbound.execute(input, next) : next(input);
  }

  handleSignal(input: SignalInput, next: Next<In, 'handleSignal'>): Promise<void> {
    return this.traced ? this.traced.inbound.handleSignal(input, next) : next(input);
  }

  handleUpdate(input: UpdateInput, next: Next<In, 'handleUpdate'>): Promise<unknown> {
    return this.traced ? this.traced.inbound.handleUpdate(input, next) : next(input);
  }

  validateUpdate(input: UpdateInput, next: Next<In, 'validateUpdate'>): void {
    if (this.traced) this.traced.inbound.validateUpdate(input, next);
    else next(input);
  }

  handleQuery(input: QueryInput, next: Next<In, 'handleQuery'>): Promise<unknown> {
    return this.traced ? this.traced.inbound.handleQuery(input, next) : next(input);
  }

  scheduleActivity(input: ActivityInput, next: Next<Out, 'scheduleActivity'>): Promise<unknown> {
    return this.traced ? this.traced.outbound.scheduleActivity(input, next) : next(input);
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<Out, 'scheduleLocalActivity'>,
  ): Promise<unknown> {
    return this.traced ? this.traced.outbound.scheduleLocalActivity(input, next) : next(input);
  }

  startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<Out, 'startChildWorkflowExecution'>,
  ): Promise<[Promise<string>, Promise<unknown>]> {
    return this.traced ? this.traced.outbound.startChildWorkflowExecution(input, next) : next(input);
  }

  startNexusOperation(
    input: StartNexusOperationInput,
    next: Next<Out, 'startNexusOperation'>,
  ): ReturnType<Next<Out, 'startNexusOperation'>> {
    return this.traced ? this.traced.outbound.startNexusOperation(input, next) : next(input);
  }

  continueAsNew(input: ContinueAsNewInput, next: Next<Out, 'continueAsNew'>): Promise<never> {
    return this.traced ? this.traced.outbound.continueAsNew(input, next) : next(input);
  }

  signalWorkflow(input: SignalWorkflowInput, next: Next<Out, 'signalWorkflow'>): Promise<void> {
    return this.traced ? this.traced.outbound.signalWorkflow(input, next) : next(input);
  }

  getLogAttributes(
    input: GetLogAttributesInput,
    next: Next<Out, 'getLogAttributes'>,
  ): Record<string, unknown> {
    return this.traced ? this.traced.outbound.getLogAttributes(input, next) : next(input);
  }

  getMetricTags(input: GetMetricTagsInput, next: Next<Out, 'getMetricTags'>): GetMetricTagsInput {
    return next(input);
  }

  dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>): void {
    if (this.traced) void new OpenTelemetryInternalsInterceptor().dispose(input, next);
    else next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => {
  const gate = new TracingGate();
  return { inbound: [gate], outbound: [gate], internals: [gate] };
};
