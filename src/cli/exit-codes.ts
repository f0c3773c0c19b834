// Maps error codes to exit statuses (documented in docs/errors.md). 0 success, 1 unexpected failure.
import type { ErrorCode } from '../errors.js';

export const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_FORMAT: 3,
  E_STATE: 3,
  E_SHAPE: 4,
  E_IO: 5,
  E_NATIVE: 6,
  E_FRAME: 7,
  E_NETWORK: 7,
  E_AUTH: 8,
  E_ATTEST: 8,
  E_VERIFY: 9,
  E_NUMERIC: 10,
};
