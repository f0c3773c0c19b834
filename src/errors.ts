// One error class for runtime failures, each with a stable code. docs/errors.md lists every code,
// what it means and what to do; the CLI maps codes to exit statuses.

export type ErrorCode =
  | 'E_SHAPE' // tensor shapes do not fit the operation
  | 'E_FORMAT' // a file or archive is malformed, truncated or of an unsupported kind
  | 'E_STATE' // a model state does not match the model (missing, unexpected, mis-shaped keys)
  | 'E_IO' // reading or writing a file failed
  | 'E_NATIVE' // the native addon is missing or failed
  | 'E_USAGE' // the command line is wrong
  | 'E_FRAME'
  | 'E_AUTH'
  | 'E_VERIFY'
  | 'E_ATTEST'
  | 'E_NETWORK'
  | 'E_NUMERIC'; // training diverged (a non-finite loss)

export class TeeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TeeError';
    this.code = code;
  }
}

export function isTeeError(e: unknown, code?: ErrorCode): e is TeeError {
  return e instanceof TeeError && (code === undefined || e.code === code);
}
