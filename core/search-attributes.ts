import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The custom search attributes of a Remedy namespace, declared once: workflows set them through these
 * typed keys, and the dev server (infra/) registers the list below at start.
 */
export const ModelIdKey = defineSearchAttributeKey('ModelId', SearchAttributeType.KEYWORD);
export const RemediationStageKey = defineSearchAttributeKey('RemediationStage', SearchAttributeType.KEYWORD);
export const DriftSeverityKey = defineSearchAttributeKey('DriftSeverity', SearchAttributeType.KEYWORD);
export const CandidateVersionKey = defineSearchAttributeKey('CandidateVersion', SearchAttributeType.KEYWORD);
export const OutcomeKey = defineSearchAttributeKey('Outcome', SearchAttributeType.KEYWORD);
/** What started a cycle: manual, drift (the monitor), volume or schedule. */
export const TriggerKindKey = defineSearchAttributeKey('TriggerKind', SearchAttributeType.KEYWORD);

/** Every key above; a key left out here is never registered, so a workflow setting it would fail. */
export const SEARCH_ATTRIBUTE_KEYS = [
  ModelIdKey,
  RemediationStageKey,
  DriftSeverityKey,
  CandidateVersionKey,
  OutcomeKey,
  TriggerKindKey,
] as const;

/** The type names the Temporal CLI takes in `--search-attribute Name=Type`. */
const CLI_TYPE = { [SearchAttributeType.KEYWORD]: 'Keyword' } as const;

/** The same keys as the plain name/type pairs the dev server's registration takes. */
export const SEARCH_ATTRIBUTES: readonly { name: string; type: 'Keyword' }[] = SEARCH_ATTRIBUTE_KEYS.map(
  (k) => ({ name: k.name, type: CLI_TYPE[k.type] }),
);
