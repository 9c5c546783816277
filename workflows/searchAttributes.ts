import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

/** Registered on the dev server by runtime/temporal.ts; a production namespace needs them too (README). */
export const CodiceFiscale = defineSearchAttributeKey('CodiceFiscale', SearchAttributeType.KEYWORD);
export const ProcessState = defineSearchAttributeKey('ProcessState', SearchAttributeType.KEYWORD);

/**
 * What a process's workflow starts with: operators find it by codice fiscale and state from
 * its first event, before any worker has run it (or while none is running).
 */
export function startSearchAttributes(codiceFiscale: string | null, state: string): SearchAttributePair[] {
  return [...(codiceFiscale ? [{ key: CodiceFiscale, value: codiceFiscale }] : []), { key: ProcessState, value: state }];
}
