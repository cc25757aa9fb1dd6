import { fileURLToPath } from 'node:url';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type pg from 'pg';
import { createActivities, createTrainingActivities } from '../activities/index.js';
import type { Pseudonymiser } from '../activities/pseudonym.js';
import type { Tracing } from '../infra/tracing.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * Modules the workflow bundle loads once per V8 context instead of once per workflow: zod and the pure
 * core the workflows use (schemas, policy decisions, metrics). Building the policy's zod schemas took
 * about 12 ms of every new workflow's first task. These modules hold no per-workflow state: constants,
 * schemas and functions of their arguments.
 */
export const PRELOAD_MODULES = [
  'zod',
  ...['policy', 'metrics', 'stats', 'failures'].map((m) =>
    fileURLToPath(new URL(`../core/${m}.ts`, import.meta.url)),
  ),
];

/**
 * Workflow interceptors every bundle carries: Temporal's OpenTelemetry interceptors behind a per-run
 * switch (workflows/tracing.ts), which continue the caller's trace in the workflow (its run, the
 * activities and children it starts). They are in every bundle, traced or not, so all replicas run the
 * same workflow code; a worker without tracing drops their spans (`workflowSpanSinks`).
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [
  fileURLToPath(new URL('../workflows/tracing.ts', import.meta.url)),
];

/** What the bundle's workflow spans are handed to: the exporter when tracing, nothing otherwise. */
export function workflowSpanSinks(tracing: Tracing | null | undefined): WorkerOptions['sinks'] {
  return {
    exporter: tracing
      ? makeWorkflowExporter(tracing.spanProcessor, tracing.resource)
      : { export: { fn: () => undefined } },
  };
}

/** Activity interceptors: each activity's run becomes a span under the workflow's span that scheduled it. */
function activityInterceptors(
  tracing: Tracing | null | undefined,
): NonNullable<WorkerOptions['interceptors']> {
  if (!tracing) return {};
  return {
    activity: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
        // Log lines written inside an activity carry trace_id and span_id.
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
  };
}

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  pool: pg.Pool;
  taskQueue: string;
  trainingTaskQueue: string;
  /** Which queues this process serves: training can run on its own machines. */
  queues: readonly ('main' | 'training')[];
  /** A pre-built bundle (tests bundle once per run); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * How many workflows the main worker keeps in memory (the SDK's maxCachedWorkflows). Cycles wait days
   * on people: a small cache keeps thousands of parked cycles in little memory, each evicted one
   * replaying its short history on its next message.
   */
  workflowCache?: number;
  /** Keyed pseudonymisation of masked personal data (REMEDY_PII_KEYS), when configured. */
  pseudonymise?: Pseudonymiser;
  /** Payload encryption (codec/codec.ts), when keys are configured; the client must use the same. */
  dataConverter?: WorkerOptions['dataConverter'];
  /**
   * Run both queues as this worker deployment version (Worker Versioning, docs/operations.md section 5):
   * cycles stay on the build that started them, checks move to the current build. Unversioned when unset.
   */
  deployment?: WorkerDeployment;
  /** OpenTelemetry tracing (infra/tracing.ts), when configured. */
  tracing?: Tracing | null;
}

/** A build of Remedy's workers within a worker deployment (REMEDY_DEPLOYMENT_NAME, REMEDY_BUILD_ID). */
export interface WorkerDeployment {
  deploymentName: string;
  buildId: string;
}

/**
 * Worker options for a deployment version. Every Remedy workflow declares its behaviour
 * (workflows/versioning.ts), but the default still matters: a workflow task that the SDK's core answers
 * without running workflow code (seen after a cycle asks its labeling child to cancel) carries the
 * worker's default, not the workflow's. With AUTO_UPGRADE there, such a task moved a pinned cycle to
 * the current build mid-run (test/workflows/versioning.test.ts). PINNED is the safe default: at worst
 * a short check finishes on the build it started on.
 */
export function deploymentOptions(deployment: WorkerDeployment | undefined): Partial<WorkerOptions> {
  if (!deployment) return {};
  return {
    workerDeploymentOptions: {
      useWorkerVersioning: true,
      version: { deploymentName: deployment.deploymentName, buildId: deployment.buildId },
      defaultVersioningBehavior: 'PINNED',
    },
  };
}

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const workers: Worker[] = [];
  if (setup.queues.includes('main')) {
    workers.push(
      await Worker.create({
        connection: setup.connection,
        namespace: setup.namespace,
        taskQueue: setup.taskQueue,
        ...(setup.workflowBundle
          ? { workflowBundle: setup.workflowBundle }
          : { workflowsPath, bundlerOptions: { preloadModules: PRELOAD_MODULES } }),
        sinks: workflowSpanSinks(setup.tracing),
        interceptors: {
          ...activityInterceptors(setup.tracing),
          // Bundled at start: the same interceptors a prebuilt bundle carries (workers/bundle.ts).
          ...(setup.workflowBundle ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
        },
        ...(setup.workflowCache !== undefined ? { maxCachedWorkflows: setup.workflowCache } : {}),
        ...(setup.dataConverter ? { dataConverter: setup.dataConverter } : {}),
        ...deploymentOptions(setup.deployment),
        activities: createActivities({
          pool: setup.pool,
          ...(setup.pseudonymise ? { pseudonymise: setup.pseudonymise } : {}),
        }),
      }),
    );
  }
  if (setup.queues.includes('training')) {
    workers.push(
      await Worker.create({
        connection: setup.connection,
        namespace: setup.namespace,
        taskQueue: setup.trainingTaskQueue,
        ...(setup.dataConverter ? { dataConverter: setup.dataConverter } : {}),
        // The training queue belongs to the same version: a pinned cycle's training runs on its build.
        ...deploymentOptions(setup.deployment),
        activities: createTrainingActivities({ pool: setup.pool }),
        interceptors: activityInterceptors(setup.tracing),
        // Training is CPU-bound: one at a time per process keeps heartbeats on schedule.
        maxConcurrentActivityTaskExecutions: 1,
      }),
    );
  }
  return workers;
}
