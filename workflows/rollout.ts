import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  type TimerOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { StepAnalysis } from '../core/policy.js';
import type { Policy } from '../core/schemas.js';
import { ApprovalInput, describeZodError, durationMs, RolloutCommand } from '../core/inputs.js';
import {
  approveFullUpdate,
  promoteUpdate,
  resolvePauseUpdate,
  rollbackUpdate,
  rolloutStatusQuery,
  type RolloutStatus,
  type RolloutStepRecord,
} from './messages.js';
import { quickIo, summarized } from './presets.js';

const acts = summarized(proxyActivities<Activities>(quickIo));

/**
 * `condition(fn, timeout)`, except that a zero timeout ("0ms": no dwell, no pause) checks `fn` once and
 * starts no timer. A server timer fires no sooner than the server's timer granularity (about a second on
 * the dev server, whatever its duration), so a policy that asks for no wait should not get one. Other
 * timeouts are unchanged and add no patch marker.
 */
async function waitFor(fn: () => boolean, timeout: string, opts: TimerOptions): Promise<boolean> {
  if (durationMs(timeout) === 0 && patched('zero-waits')) return fn();
  return condition(fn, timeout, opts);
}

type PauseCommand = RolloutCommand & { decision: 'continue' | 'rollback' };

export interface RolloutInput {
  cycleId: string;
  modelId: string;
  championVersion: number;
  candidateVersion: number;
  policy: Policy['rollout'];
}

export interface RolloutResult {
  outcome: 'promoted' | 'rolled-back';
  reason: string;
  steps: RolloutStepRecord[];
  /** When a breached analysis was decided and when traffic was back on the champion (database clock). */
  breach?: { decidedAt: string; restoredAt: string };
}

/** What people sent the rollout while it ran: each set by its update handler. */
interface Inbox {
  rollback: RolloutCommand | null;
  promote: RolloutCommand | null;
  pause: PauseCommand | null;
  approval: ApprovalInput | null;
}

/** One rollout in flight: its input, the status its query shows, and what people sent it. */
interface Run {
  input: RolloutInput;
  policy: Policy['rollout'];
  status: RolloutStatus;
  inbox: Inbox;
  versions: { championVersion: number; candidateVersion: number };
  /** When the first step's traffic started (database clock); every later step's champion arm falls back to it. */
  rolloutSince: string | null;
}

/**
 * Staged rollout through the serving gateway: raise the candidate's share step by step, dwell while
 * real traffic and feedback arrive, analyse, and then advance, roll back (more failures in a row
 * than the failure limit), or pause for a person when the evidence is inconclusive. Promotes at the end.
 */
export async function stagedRollout(input: RolloutInput): Promise<RolloutResult> {
  const { policy } = input;
  const status: RolloutStatus = { state: 'running', currentWeight: 0, steps: [], reason: null };
  const run: Run = {
    input,
    policy,
    status,
    inbox: listen(policy, status),
    versions: { championVersion: input.championVersion, candidateVersion: input.candidateVersion },
    rolloutSince: null,
  };
  try {
    for (const [index, weight] of policy.steps.entries()) {
      if (interrupted(run)) return await manual(run);
      if (weight === 100 && policy.approveBeforeFull) {
        const refused = await approveFull(run);
        if (refused) return refused;
      }
      const ended = await runStep(run, index, weight);
      if (ended) return ended;
    }
    // Policies before bakeTime have none; "0s" promotes and ends as it always did (no marker).
    const bakeMs = policy.bakeTime ? durationMs(policy.bakeTime) : 0;
    if (bakeMs > 0 && patched('bake')) return await promoteAndBake(run, bakeMs);
    return await promote(run, REMEDY, 'every step passed its analysis');
  } catch (err) {
    if (isCancellation(err)) {
      // Compensation must run even though this scope was cancelled: give production back to the champion.
      await CancellationScope.nonCancellable(() =>
        acts.rollback({
          cycleId: input.cycleId,
          modelId: input.modelId,
          ...run.versions,
          actor: 'abort',
          evidence: { aborted: true },
        }),
      );
    }
    throw err;
  }
}

/** Registers the status query and the four updates; the returned inbox fills as people send them. */
function listen(policy: Policy['rollout'], status: RolloutStatus): Inbox {
  const inbox: Inbox = { rollback: null, promote: null, pause: null, approval: null };
  setHandler(rolloutStatusQuery, () => status);
  setHandler(
    rollbackUpdate,
    (cmd) => {
      inbox.rollback = cmd;
      return { accepted: true };
    },
    { validator: (cmd) => validateCommand(cmd, policy, status) },
  );
  setHandler(
    promoteUpdate,
    (cmd) => {
      inbox.promote = cmd;
      return { accepted: true };
    },
    { validator: (cmd) => validateCommand(cmd, policy, status) },
  );
  setHandler(
    resolvePauseUpdate,
    (cmd) => {
      inbox.pause = cmd;
      return { accepted: true };
    },
    {
      validator: (cmd: PauseCommand) => {
        validateCommand(cmd, policy, status);
        if (cmd.decision !== 'continue' && cmd.decision !== 'rollback')
          throw new Error('decision must be "continue" or "rollback"');
        if (status.state !== 'paused') throw new Error('the rollout is not paused: nothing to resolve');
      },
    },
  );
  setHandler(
    approveFullUpdate,
    (approval) => {
      inbox.approval = approval;
      return { approved: approval.approve };
    },
    {
      validator: (raw) => {
        const p = ApprovalInput.safeParse(raw);
        if (!p.success) throw new Error(`approval refused: ${describeZodError(p.error)}`);
        if (policy.approvers.length > 0 && !policy.approvers.includes(p.data.approver)) {
          throw new Error(`approval refused: "${p.data.approver}" is not an approver for this model`);
        }
        if (status.state !== 'awaiting-approval')
          throw new Error('approval refused: the rollout is not waiting for approval');
      },
    },
  );
  return inbox;
}

/** A manual rollback or promote arrived: it cuts the rollout short. */
const interrupted = (run: Run): boolean => run.inbox.rollback !== null || run.inbox.promote !== null;

/** Who ends a rollout: Remedy itself, or a person and how their name was established. */
interface Who {
  actor: string;
  verifiedBy?: string;
}
const REMEDY: Who = { actor: 'remedy' };
/** A person's command: their name and method (a command sent without one is recorded as typed). */
const person = (cmd: { actor: string; verifiedBy?: string }): Who => ({
  actor: cmd.actor,
  verifiedBy: cmd.verifiedBy ?? 'unverified',
});

/**
 * A person's command that changes nothing in the registry by itself (a 100% approval, a pause resolved
 * with continue, a promote that ends the bake) is still kept in the audit trail: who, how they were
 * verified, and why. Runs started before this existed record nothing (`steering-audit`); the key makes
 * a retried activity write the event once.
 */
async function auditSteering(
  run: Run,
  key: string,
  action: string,
  who: Who,
  details: Record<string, unknown>,
): Promise<void> {
  if (!patched('steering-audit')) return;
  await acts.recordAudit({
    key: `${run.input.cycleId}:${key}`,
    cycleId: run.input.cycleId,
    modelId: run.input.modelId,
    actor: who.actor,
    action,
    details: { ...details, actor: who.actor, verifiedBy: who.verifiedBy ?? 'unverified' },
  });
}

async function rollback(
  run: Run,
  who: Who,
  reason: string,
  evidence: unknown,
  decidedAt?: string,
): Promise<RolloutResult> {
  const { restoredAt } = await acts.rollback({
    cycleId: run.input.cycleId,
    modelId: run.input.modelId,
    ...run.versions,
    ...who,
    evidence,
  });
  run.status.state = 'rolled-back';
  run.status.currentWeight = 0;
  run.status.reason = reason;
  await condition(allHandlersFinished);
  return {
    outcome: 'rolled-back',
    reason,
    steps: run.status.steps,
    ...(decidedAt ? { breach: { decidedAt, restoredAt } } : {}),
  };
}

async function promote(run: Run, who: Who, reason: string): Promise<RolloutResult> {
  await acts.promote({ cycleId: run.input.cycleId, modelId: run.input.modelId, ...run.versions, ...who });
  run.status.state = 'promoted';
  run.status.currentWeight = 100;
  run.status.reason = reason;
  await condition(allHandlersFinished);
  return { outcome: 'promoted', reason, steps: run.status.steps };
}

/**
 * After the last step (rollout.bakeTime): the candidate is promoted and serves everything as champion,
 * and the rollout keeps analysing it every dwell, against the old champion's numbers from the rollout, as
 * Argo Rollouts' post-promotion analysis does. More failures than the failure limit give production back
 * to the old champion (traffic, aliases, its reference profile); a manual rollback does the same, a manual
 * promote ends the bake early. Inconclusive analyses (too little feedback) neither pass nor revert.
 */
async function promoteAndBake(run: Run, bakeMs: number): Promise<RolloutResult> {
  const { input, policy, status } = run;
  const { promotedAt } = await acts.promote({
    cycleId: input.cycleId,
    modelId: input.modelId,
    ...run.versions,
    actor: 'remedy',
  });
  const { candidateVersion, championVersion } = run.versions;
  status.state = 'baking';
  status.currentWeight = 100;
  status.reason = `promoted v${candidateVersion}; baking for ${policy.bakeTime}: a breach gives production back to v${championVersion}`;
  const index = policy.steps.length;
  const started = Date.now();
  const dwellMs = durationMs(policy.dwell);
  let failures = 0;
  let attempt = 0;
  for (let left = bakeMs; left > 0; left = bakeMs - (Date.now() - started)) {
    await condition(() => interrupted(run), Math.min(dwellMs, left), {
      summary: `Bake: watch the new champion v${candidateVersion} at 100%`,
    });
    if (interrupted(run)) return await endBakeEarly(run);
    const analysis = await acts.analyzeRolloutStep({
      cycleId: input.cycleId,
      modelId: input.modelId,
      stepIndex: index,
      attempt,
      weight: 100,
      stepSince: promotedAt,
      rolloutSince: run.rolloutSince ?? promotedAt,
      ...run.versions,
      policy,
      bake: true,
    });
    status.steps.push({ index, weight: 100, attempt: attempt++, analysis, bake: true });
    if (analysis.decision === 'fail' && ++failures > policy.failureLimit) {
      const reason = `bake breached ${Math.round((Date.now() - started) / 1000)}s after promotion (rollout.bakeTime ${policy.bakeTime}): ${analysis.reason}`;
      return await rollback(run, REMEDY, reason, { ...analysis, reason, bake: true }, analysis.decidedAt);
    }
  }
  const baked = status.steps.filter((s) => s.bake);
  const inconclusive = baked.filter((s) => s.analysis.decision === 'inconclusive').length;
  status.state = 'promoted';
  status.reason = `every step passed its analysis and v${candidateVersion} baked for ${policy.bakeTime}: ${baked.length} analyses, ${failures} failed${inconclusive > 0 ? `, ${inconclusive} inconclusive` : ''}`;
  await condition(allHandlersFinished);
  return { outcome: 'promoted', reason: status.reason, steps: status.steps };
}

/** A person cut the bake short: a rollback reverts to the old champion, a promote keeps the new one. */
async function endBakeEarly(run: Run): Promise<RolloutResult> {
  const { rollback: back, promote: forward } = run.inbox;
  if (back) {
    return rollback(
      run,
      person(back),
      `rolled back while baking by ${back.actor}${back.reason ? `: ${back.reason}` : ''}`,
      { manual: back, bake: true },
    );
  }
  const cmd = forward!;
  await auditSteering(run, 'bake-ended', 'rollout.bake-ended', person(cmd), {
    version: run.versions.candidateVersion,
    reason: cmd.reason ?? null,
  });
  run.status.state = 'promoted';
  run.status.reason = `promoted; bake ended early by ${cmd.actor}${cmd.reason ? `: ${cmd.reason}` : ''}`;
  await condition(allHandlersFinished);
  return { outcome: 'promoted', reason: run.status.reason, steps: run.status.steps };
}

/** Ends the rollout the way the manual command asked (a rollback wins over a promote). */
async function manual(run: Run): Promise<RolloutResult> {
  const { rollback: back, promote: forward } = run.inbox;
  if (back) {
    return rollback(
      run,
      person(back),
      `rolled back by ${back.actor}${back.reason ? `: ${back.reason}` : ''}`,
      {
        manual: back,
      },
    );
  }
  const cmd = forward!;
  return promote(run, person(cmd), `promoted by ${cmd.actor}${cmd.reason ? `: ${cmd.reason}` : ''}`);
}

/** Before 100%: waits for a person's approval. Returns how the rollout ended, or null to go on. */
async function approveFull(run: Run): Promise<RolloutResult | null> {
  const { policy, status, inbox } = run;
  status.state = 'awaiting-approval';
  status.reason = `waiting for approval before 100% ("remedy approve-full"), up to ${policy.approvalTimeout}`;
  const answered = await waitFor(() => inbox.approval !== null || interrupted(run), policy.approvalTimeout, {
    summary: 'Wait for approval before 100% (remedy approve-full)',
  });
  if (interrupted(run)) return await manual(run);
  const approval = inbox.approval;
  if (!answered || !approval)
    return await rollback(run, REMEDY, `no approval before 100% within ${policy.approvalTimeout}`, {});
  if (!approval.approve) {
    return await rollback(
      run,
      { actor: approval.approver, verifiedBy: approval.verifiedBy ?? 'unverified' },
      `100% denied by ${approval.approver}${approval.reason ? `: ${approval.reason}` : ''}`,
      { approval },
    );
  }
  await auditSteering(
    run,
    'full-approved',
    'rollout.full-approved',
    person({ actor: approval.approver, verifiedBy: approval.verifiedBy }),
    { version: run.versions.candidateVersion, reason: approval.reason ?? null },
  );
  status.state = 'running';
  status.reason = null;
  return null;
}

/**
 * One step: moves the split to `weight`, then dwells and analyses until the step passes, breaches
 * (rolled back), or a person resolves a pause. Returns how the rollout ended, or null to go on.
 */
async function runStep(run: Run, index: number, weight: number): Promise<RolloutResult | null> {
  const { input, policy, status } = run;
  // The router and the step's number are inputs only (no new command): histories replay unchanged.
  const { since } = await acts.setTrafficWeight({
    cycleId: input.cycleId,
    modelId: input.modelId,
    ...run.versions,
    weight,
    router: policy.router,
    step: index + 1,
  });
  run.rolloutSince ??= since;
  status.currentWeight = weight;
  const stepStarted = Date.now();
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    // Dwell at this weight while traffic and feedback arrive; a manual rollback or promote cuts it short.
    await waitFor(() => interrupted(run), policy.dwell, {
      summary: `Dwell at ${weight}% while feedback arrives`,
    });
    if (interrupted(run)) return await manual(run);
    const analysis = await acts.analyzeRolloutStep({
      cycleId: input.cycleId,
      modelId: input.modelId,
      stepIndex: index,
      attempt,
      weight,
      stepSince: since,
      rolloutSince: run.rolloutSince,
      ...run.versions,
      policy,
    });
    record(status, index, weight, attempt, analysis);
    log.info('rollout step analysed', {
      cycleId: input.cycleId,
      weight,
      attempt,
      decision: analysis.decision,
    });
    if (analysis.decision === 'pass') return null;
    if (analysis.decision === 'fail') {
      failures++;
      if (failures > policy.failureLimit) {
        return await rollback(
          run,
          REMEDY,
          `step ${index + 1} (${weight}%) breached: ${analysis.reason}`,
          analysis,
          analysis.decidedAt,
        );
      }
      continue;
    }
    // Too few samples: keep dwelling while the step's sample wait lasts, then ask a person.
    if (Date.now() - stepStarted < durationMs(policy.sampleWait)) continue;
    return await pause(run, index, weight, analysis);
  }
}

/**
 * An inconclusive step past its sample wait: waits for "remedy resolve". Returns how the rollout ended,
 * or null when the person accepts the step as it is and the rollout advances.
 */
async function pause(
  run: Run,
  index: number,
  weight: number,
  analysis: StepAnalysis,
): Promise<RolloutResult | null> {
  const { policy, status, inbox } = run;
  status.state = 'paused';
  status.reason = `paused at ${weight}%: ${analysis.reason}; resolve with "remedy resolve" (continue or rollback)`;
  const decided = await waitFor(() => inbox.pause !== null || interrupted(run), policy.decisionTimeout, {
    summary: 'Paused on an inconclusive analysis: wait for remedy resolve',
  });
  const decision = inbox.pause;
  inbox.pause = null;
  if (interrupted(run)) return await manual(run);
  if (!decided || !decision) {
    return await rollback(
      run,
      REMEDY,
      `paused at ${weight}% with no decision within ${policy.decisionTimeout}`,
      analysis,
    );
  }
  if (decision.decision === 'rollback') {
    return await rollback(
      run,
      person(decision),
      `rolled back at the pause by ${decision.actor}${decision.reason ? `: ${decision.reason}` : ''}`,
      analysis,
    );
  }
  // "continue": the person accepts this step as it is and the rollout advances (one pause per step).
  await auditSteering(run, `resolved:${index}`, 'rollout.pause-resolved', person(decision), {
    decision: 'continue',
    step: index + 1,
    weight,
    reason: decision.reason ?? null,
  });
  status.state = 'running';
  status.reason = null;
  return null;
}

function record(
  status: RolloutStatus,
  index: number,
  weight: number,
  attempt: number,
  analysis: StepAnalysis,
): void {
  status.steps.push({ index, weight, attempt, analysis });
}

function validateCommand(cmd: unknown, policy: Policy['rollout'], status: RolloutStatus): void {
  const parsed = RolloutCommand.safeParse(cmd);
  if (!parsed.success) throw new Error(`refused: ${describeZodError(parsed.error)}`);
  if (policy.approvers.length > 0 && !policy.approvers.includes(parsed.data.actor)) {
    throw new Error(`refused: "${parsed.data.actor}" is not an approver for this model`);
  }
  if (status.state === 'promoted' || status.state === 'rolled-back') {
    throw new Error(`refused: the rollout already ended (${status.state})`);
  }
}
