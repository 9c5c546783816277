import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the dev server by runtime/temporal.ts; a production namespace needs them too (README). */
export const CodiceFiscale = defineSearchAttributeKey('CodiceFiscale', SearchAttributeType.KEYWORD);
export const ProcessState = defineSearchAttributeKey('ProcessState', SearchAttributeType.KEYWORD);
