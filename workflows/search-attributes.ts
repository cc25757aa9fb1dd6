import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes the dev server registers at start and every cycle keeps current. */
export const ModelIdKey = defineSearchAttributeKey('ModelId', SearchAttributeType.KEYWORD);
export const RemediationStageKey = defineSearchAttributeKey('RemediationStage', SearchAttributeType.KEYWORD);
export const DriftSeverityKey = defineSearchAttributeKey('DriftSeverity', SearchAttributeType.KEYWORD);
export const CandidateVersionKey = defineSearchAttributeKey('CandidateVersion', SearchAttributeType.KEYWORD);
export const OutcomeKey = defineSearchAttributeKey('Outcome', SearchAttributeType.KEYWORD);
/** What started a cycle: manual, drift (the monitor), volume or schedule. */
export const TriggerKindKey = defineSearchAttributeKey('TriggerKind', SearchAttributeType.KEYWORD);
