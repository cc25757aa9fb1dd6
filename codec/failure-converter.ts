/** Failure messages and stack traces go into an encoded payload, so the payload codec encrypts them. */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
