/** The search attributes every cycle keeps current: declared once, in core/search-attributes.ts. */
export {
  CandidateVersionKey,
  DriftSeverityKey,
  ModelIdKey,
  OutcomeKey,
  RemediationStageKey,
  TriggerKindKey,
} from '../core/search-attributes.js';
