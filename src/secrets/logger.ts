/** A pino logger whose every line passes the redactor just before it is written. */
import pino, { type Logger } from 'pino';
import type { SecretRedactor } from './redact/redactor.js';

/**
 * Wraps `base`: same level and destination, with a streamWrite hook that redacts the serialized
 * line (so message, fields, errors and bindings are all covered). Bindings of `base` are not kept.
 */
export function redactingLogger(base: Logger, redactor: SecretRedactor): Logger {
  const stream = (base as unknown as Record<symbol, pino.DestinationStream | undefined>)[pino.symbols.streamSym];
  return pino({ level: base.level, hooks: { streamWrite: (s: string) => redactor.redactText(s, 'log') } }, stream ?? pino.destination(1));
}
