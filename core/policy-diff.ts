/**
 * What changed between two registered definitions of a model (features, label set, policy): the
 * changed leaves by path, and a line per change a person can read. Pure.
 */

export interface PolicyChange {
  /** Dotted path, e.g. "policy.triggers.cooldown" or "labelSet". */
  path: string;
  /** Absent (undefined) when the field is new; JSON null stays null. */
  before?: unknown;
  after?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys sorted at every level, so the same definition always serialises the same way. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** The changed leaves, by path in key order; arrays (label sets, feature lists) change as one value. */
export function diffDefinitions(before: unknown, after: unknown, path = ''): PolicyChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffDefinitions(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (canonical(before) === canonical(after)) return [];
  return [
    {
      path: path || '(definition)',
      ...(before !== undefined ? { before } : {}),
      ...(after !== undefined ? { after } : {}),
    },
  ];
}

const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));

/** One line per change: `policy.triggers.cooldown: "7d" → "3d"`. */
export function describeChanges(changes: readonly PolicyChange[]): string[] {
  return changes.map((c) => `${c.path}: ${show(c.before)} → ${show(c.after)}`);
}
