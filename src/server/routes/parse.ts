import type { z } from 'zod';
import { ClawguardError } from '../../errors/index.js';

/** Validate request input; the first problem becomes a 400 naming where it is (`body.profile: …`). */
export function parseInput<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, v: unknown, where = 'body'): T {
  const r = schema.safeParse(v ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    const path = i.path.join('.');
    throw new ClawguardError('bad_request', `${where}${path ? `.${path}` : ''}: ${i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.join(', ')}` : i.message}`);
  }
  return r.data;
}
