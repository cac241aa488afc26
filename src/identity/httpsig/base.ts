/** The signature base of RFC 9421 §2.5: one line per covered component, then "@signature-params". */
import type { Item } from 'structured-headers';
import { serializeItem } from 'structured-headers';
import { reject } from '../codes.js';
import { componentValue, splitTarget } from './components.js';
import type { SignedRequest } from './message.js';

/** `identifiers` (the serialized components, when already known) saves serializing them again. */
export function signatureBase(msg: SignedRequest, covered: Item[], signatureParams: string, identifiers?: string[]): string {
  const target = splitTarget(msg.targetUri);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < covered.length; i++) {
    const item = covered[i]!;
    const id = identifiers?.[i] ?? serializeItem(item);
    if (seen.has(id)) throw reject('malformed_signature', `${id} is covered twice`);
    seen.add(id);
    const value = componentValue(msg, target, item);
    if (/[\r\n]/.test(value)) throw reject('malformed_signature', `the value of ${id} contains a line break`);
    lines.push(`${id}: ${value}`);
  }
  lines.push(`"@signature-params": ${signatureParams}`);
  return lines.join('\n');
}
