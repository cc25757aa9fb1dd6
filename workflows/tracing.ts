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
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation.js';
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
        inbound: new OpenTelemetryInboundInterceptor(),
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
