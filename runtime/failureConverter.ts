import { DefaultFailureConverter } from '@temporalio/common';

/** Failure messages and stack traces go through the codec too: a provider's error may quote an address. */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
