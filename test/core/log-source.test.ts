/**
 * The policy's `logSource` block: what registration accepts and refuses before any worker reads a window.
 */
import { describe, expect, it } from 'vitest';
import { describeLogSource, featureColumns, LogColumns, unmappedFeatures } from '../../core/log-source.js';
import { ModelDefinition } from '../../core/schemas.js';

const columns = { key: 'id', time: 'at', features: 'inputs', label: 'truth' };
const model = (logSource?: unknown) =>
  ModelDefinition.safeParse({
    modelId: 'm',
    labelSet: ['a', 'b'],
    features: { numeric: ['age'], categorical: ['plan'] },
    policy: logSource === undefined ? {} : { logSource },
  });

describe('policy.logSource', () => {
  it('given no logSource, then the model reads the records table and its policy is as before', () => {
    const parsed = model();
    expect(parsed.success).toBe(true);
    expect(parsed.data!.policy.logSource).toBeUndefined();
    expect(describeLogSource({ kind: 'records' })).toBe("Remedy's records table");
  });

  it('given a Postgres table with one JSON column, or files with a column per feature, then registration accepts it', () => {
    expect(model({ kind: 'postgres', connectionEnv: 'TEAM_LOG_URL', table: 'log', columns }).success).toBe(
      true,
    );
    const files = {
      kind: 'files',
      directory: '/data/log',
      columns: { ...columns, features: { age: 'Age', plan: 'p' } },
    };
    expect(model(files).success).toBe(true);
    expect(featureColumns(LogColumns.parse(files.columns))).toEqual(
      new Map([
        ['age', 'Age'],
        ['plan', 'p'],
      ]),
    );
  });

  it('given a secret, a bad variable name, an unknown key or an unmapped feature, then registration says what to fix', () => {
    const message = (logSource: unknown) =>
      model(logSource)
        .error?.issues.map((i) => i.message)
        .join('; ');
    expect(
      message({ kind: 'postgres', connectionEnv: 'postgresql://u:pw@db/x', table: 'log', columns }),
    ).toContain('this looks like a connection string: put it in an environment variable');
    expect(message({ kind: 'postgres', connectionEnv: 'TEAM-URL', table: 'log', columns })).toContain(
      'must be the name of an environment variable',
    );
    expect(message({ kind: 'files', directory: '/d', columns: { ...columns, labels: 'x' } })).toMatch(
      /labels/,
    );
    expect(message({ kind: 'files', directory: '/d', columns: { ...columns, features: ['age'] } })).toBe(
      "the log source gives no column for the model's feature plan: add it to columns.features",
    );
    expect(unmappedFeatures({ kind: 'records' }, ['age'])).toEqual([]);
  });
});
