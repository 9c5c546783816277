import pino, { type Logger } from 'pino';

/** Any field with one of these names is replaced before a line is written, however deep. */
export const REDACTED_PATHS = [
  'password', 'currentPassword', 'newPassword', 'confirmPassword', 'initialPassword', 'code', 'otp', 'pin', 'token',
  'codeHash', 'secret', 'authorization', 'cookie',
].flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `req.headers.${key}`, `res.headers["set-cookie"]`]);

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'varco' },
      redact: { paths: [...new Set(REDACTED_PATHS)], censor: '[redatto]' },
    },
    destination,
  );
}
