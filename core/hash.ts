/**
 * FNV-1a over a string's UTF-16 code units: a stable 32-bit hash for sticky routing, holdout
 * assignment, deterministic sampling orders and masked values. Pure (imported by workflow code).
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
