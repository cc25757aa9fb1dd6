/**
 * `remedy triggers …`: the volume and schedule triggers per model.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  createTrigger,
  deleteMonitor,
  describeMonitor,
  pauseMonitor,
  resumeMonitor,
  triggerMonitor,
} from '../ops/monitor.js';
import { type CliContext } from './shared.js';
import { renderMonitor } from './monitors.js';

const kindOption = () =>
  new Option('--kind <kind>', 'volume: failure volume; schedule: a cycle on a cadence')
    .choices(['volume', 'schedule'])
    .makeOptionMandatory();

/** Creating, running, showing and deleting triggers. */
export function registerTriggerCommands(
  program: Command,
  { io, withClient, withBoth, print }: CliContext,
): void {
  const triggers = program
    .command('triggers')
    .description('the volume and schedule triggers of a model (the drift trigger is "remedy monitor")');
  triggers
    .command('create')
    .description("create a model's volume trigger (volume-<model>) or schedule trigger (retrain-<model>)")
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .option('--every <duration>', 'how often it runs (e.g. 10m, 7d)', '1h')
    .option('--paused', 'create it paused')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
volume: starts a cycle after triggers.volume.newLabeledFailures labeled failures since the last cycle, or
when one failure pattern is triggers.volume.patternShare of the labeled failures in the trailing window.
schedule: starts a cycle over the latest triggers.scheduleWindow of the log, every time.
Either attaches itself to the model's open cycle as evidence instead of starting a second one.`,
    )
    .action(
      async (
        model: string,
        o: { kind: 'volume' | 'schedule'; every: string; paused?: boolean; json?: boolean },
      ) => {
        const m = await withBoth(({ client, queues, pool }) =>
          createTrigger(client, pool, queues, {
            modelId: model,
            kind: o.kind,
            every: o.every,
            paused: o.paused === true,
          }),
        );
        print(o.json, m, renderMonitor(m));
      },
    );
  triggers
    .command('run')
    .description('run a trigger now')
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .option('--wait', 'wait for it and print the result')
    .option('--json', 'print JSON')
    .action(async (model: string, o: { kind: 'volume' | 'schedule'; wait?: boolean; json?: boolean }) => {
      const r = await withClient(({ client }) =>
        triggerMonitor(client, model, { wait: o.wait === true, kind: o.kind }),
      );
      if (!r)
        return io.out(o.json ? '{"triggered":true}\n' : `triggered the ${o.kind} trigger of ${model}\n`);
      print(o.json, r, `${r.state}: ${r.reason}${r.cycleId ? `\ncycle: ${r.cycleId}` : ''}\n`);
    });
  triggers
    .command('show')
    .description("show a trigger's state, next runs and recent runs")
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .option('--json', 'print JSON')
    .action(async (model: string, o: { kind: 'volume' | 'schedule'; json?: boolean }) => {
      const m = await withBoth(({ client, pool }) => describeMonitor(client, pool, model, o.kind));
      print(o.json, m, renderMonitor(m));
    });
  for (const [name, fn] of [
    ['pause', pauseMonitor],
    ['resume', resumeMonitor],
  ] as const) {
    triggers
      .command(name)
      .description(`${name} a trigger`)
      .argument('<model>', 'model ID')
      .addOption(kindOption())
      .option('--note <text>', 'why, shown in the Web UI')
      .action(async (model: string, o: { kind: 'volume' | 'schedule'; note?: string }) => {
        await withClient(({ client }) => fn(client, model, o.note, o.kind));
        io.out(`${name === 'pause' ? 'paused' : 'resumed'} the ${o.kind} trigger of ${model}\n`);
      });
  }
  triggers
    .command('delete')
    .description('delete a trigger')
    .argument('<model>', 'model ID')
    .addOption(kindOption())
    .action(async (model: string, o: { kind: 'volume' | 'schedule' }) => {
      await withBoth(({ client, pool }) => deleteMonitor(client, pool, model, o.kind));
      io.out(`deleted the ${o.kind} trigger of ${model}\n`);
    });
}
