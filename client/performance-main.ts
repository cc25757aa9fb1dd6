/**
 * Standalone entry for `remedy performance` until it joins the CLI:
 *   npx tsx client/performance-main.ts --reference ref.csv --current cur.csv --proba-columns p \
 *     [--prediction-column yhat] --label-column y [--chunk 5000] [--json]
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UserError } from './cycles.js';
import { runPerformance } from './performance.js';

function rows(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive whole number of rows');
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('remedy performance')
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
      (v) => v.split(',').map((s) => s.trim()),
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
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
    const o = program.opts<{
      reference: string;
      current: string;
      probaColumns: string[];
      predictionColumn?: string;
      labelColumn: string;
      chunk: number;
      json?: boolean;
    }>();
    await runPerformance({
      reference: o.reference,
      current: o.current,
      probaColumns: o.probaColumns,
      labelColumn: o.labelColumn,
      chunk: o.chunk,
      ...(o.predictionColumn ? { predictionColumn: o.predictionColumn } : {}),
      ...(o.json ? { json: true } : {}),
    });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
