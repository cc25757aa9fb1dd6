/**
 * `remedy drift`: a drift report between two files, without a server.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { TEST_NAMES, type TestName } from '../core/drift.js';
import { offlineDrift, renderOffline } from '../drift/offline.js';
import { type CliContext, DriftFound, list, share, EXIT } from './shared.js';

/** The offline drift report. */
export function registerDriftCommand(program: Command, { print }: CliContext): void {
  program
    .command('drift')
    .description(
      'drift report between a reference file and a current file (CSV or Parquet), no server needed',
    )
    .requiredOption('--reference <file>', 'reference data (.csv or .parquet)')
    .requiredOption('--current <file>', 'current window (.csv or .parquet), same columns')
    .addOption(
      new Option('--test <name>', 'force this test for every feature it applies to').choices([...TEST_NAMES]),
    )
    .option('--numeric <columns>', 'treat these columns as numeric (comma-separated)', list)
    .option('--categorical <columns>', 'treat these columns as categorical (comma-separated)', list)
    .option('--drift-share <share>', 'dataset drift when at least this share of features drifted', share)
    .addOption(
      new Option('--correction <method>', 'multiple-testing correction for p-value tests').choices([
        'none',
        'bonferroni',
        'benjamini-hochberg',
      ]),
    )
    .option('--fail-on-drift', `exit with code ${EXIT.drift} when the dataset drifted`)
    .option('--json', 'print one JSON document: {features: [...], dataset: {drifted, share}}')
    .addHelpText(
      'after',
      `
Tests: ks, chisquare, ztest (p-values: drift when p < threshold, KS at p <= threshold), wasserstein (normalised by
the reference's standard deviation), jensenshannon, psi (distances: drift when >= threshold). By default each
feature gets the test practitioners expect: reference <= 1000 rows: KS for numeric columns with more than 5
values, z-test for two values, chi-square otherwise; larger references: Wasserstein or Jensen-Shannon.
Columns are numeric when every non-empty reference value is a number; timestamps are not tested.

Example: remedy drift --reference jan.parquet --current feb.parquet --json`,
    )
    .action(
      async (o: {
        reference: string;
        current: string;
        test?: TestName;
        numeric?: string[];
        categorical?: string[];
        driftShare?: number;
        correction?: 'none' | 'bonferroni' | 'benjamini-hochberg';
        failOnDrift?: boolean;
        json?: boolean;
      }) => {
        const run = await offlineDrift(o.reference, o.current, {
          ...(o.test ? { test: o.test } : {}),
          ...(o.numeric ? { numeric: o.numeric } : {}),
          ...(o.categorical ? { categorical: o.categorical } : {}),
          ...(o.driftShare !== undefined ? { driftShare: o.driftShare } : {}),
          ...(o.correction ? { correction: o.correction } : {}),
        });
        print(o.json, run.report, renderOffline(run));
        if (o.failOnDrift && run.report.dataset.drifted) throw new DriftFound();
      },
    );
}
