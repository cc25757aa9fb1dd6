import { proxyActivities } from '@temporalio/workflow';
import { quickIo } from '../../workflows/presets.js';

/** The baseline's only activity: does nothing, so what is measured is Temporal's and the SDK's own cost. */
export interface BaselineActivities {
  noop(i: number): Promise<number>;
}

const acts = proxyActivities<BaselineActivities>(quickIo);

/** A workflow that runs `activities` no-op activities one after another, as a cycle runs its stages. */
export async function baselineWorkflow(activities: number): Promise<number> {
  let done = 0;
  for (let i = 0; i < activities; i++) done += await acts.noop(i);
  return done;
}
