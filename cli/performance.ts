/**
 * `remedy performance`: a classifier's performance per chunk without waiting for labels (confidence-based
 * estimation calibrated on a labeled reference file), with the realized value where labels exist. No server.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { estimateFiles, renderPerformance } from '../drift/performance.js';
import type { CliContext } from './shared.js';

function rows(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive whole number of rows');
  return n;
}

export function registerPerformanceCommand(program: Command, { print }: CliContext): void {
  program
    .command('performance')
    .description(
      "a classifier's performance per chunk without labels (confidence-based estimation, calibrated on the labeled reference), with the realized value where the current file has labels",
    )
    .requiredOption(
      '--reference <file>',
      'reference file (CSV or Parquet) with probabilities, predictions and labels',
    )
    .requiredOption('--current <file>', 'current file (CSV or Parquet); labels optional')
    .requiredOption(
      '--proba-columns <columns>',
      "binary: the positive class's probability column; multiclass: one per class, class=column,… (or columns named after their class)",
      (v: string) => v.split(',').map((s) => s.trim()),
    )
    .option(
      '--prediction-column <column>',
      'predicted label (0/1, or the class name); default: probability >= 0.5, or the most probable class',
    )
    .requiredOption(
      '--label-column <column>',
      'true label (0/1 or true/false, or the class name; empty when not arrived)',
    )
    .option('--chunk <rows>', 'rows per chunk', rows, 5000)
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      `
Example: remedy performance --reference ref.csv --current cur.csv --proba-columns p --label-column y --chunk 5000`,
    )
    .action(
      async (o: {
        reference: string;
        current: string;
        probaColumns: string[];
        predictionColumn?: string;
        labelColumn: string;
        chunk: number;
        json?: boolean;
      }) => {
        const run = await estimateFiles({
          reference: o.reference,
          current: o.current,
          probaColumns: o.probaColumns,
          labelColumn: o.labelColumn,
          chunk: o.chunk,
          ...(o.predictionColumn ? { predictionColumn: o.predictionColumn } : {}),
        });
        print(o.json, run, renderPerformance(run));
      },
    );
}
