/**
 * The Temporal header that marks a run started by one of Remedy's Schedules (a drift monitor, a volume or a
 * schedule trigger) as one to trace. A Schedule has no caller whose trace it could continue, so its runs
 * carry this marker instead of a trace context: the workflow interceptors (workflows/tracing.ts) then open
 * a new trace rooted at the run, and the cycle the run starts continues it. The header is written into the
 * Schedule's action when Remedy creates the Schedule (ops/monitor.ts), so it is in each run's history and
 * replays the same on every worker; runs recorded without it stay untraced.
 */
export const SCHEDULED_RUN_TRACE_HEADER = 'remedy-scheduled-run-trace';
