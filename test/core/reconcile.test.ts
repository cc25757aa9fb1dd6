import { describe, expect, it } from 'vitest';
import { reconciledOutcome } from '../../core/reconcile.js';

describe('reconciledOutcome', () => {
  it('given a closed execution, then the row closes with an outcome naming how it ended', () => {
    expect(reconciledOutcome('TERMINATED')).toBe('terminated');
    expect(reconciledOutcome('TIMED_OUT')).toBe('timed-out');
    expect(reconciledOutcome('FAILED')).toBe('failed');
    expect(reconciledOutcome('CANCELLED')).toBe('aborted');
  });

  it('given a running or unknown status, then the row is left for the workflow to close', () => {
    expect(reconciledOutcome('RUNNING')).toBeNull();
    expect(reconciledOutcome('CONTINUED_AS_NEW')).toBeNull();
    expect(reconciledOutcome('UNKNOWN')).toBeNull();
    expect(reconciledOutcome('toString')).toBeNull();
  });
});
