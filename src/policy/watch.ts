/** Reload local policies when their directory changes (debounced). */
import { existsSync, watch, type FSWatcher } from 'node:fs';

export function watchPolicyDir(dir: string | undefined, onChange: () => void, debounceMs = 150): () => void {
  if (!dir || !existsSync(dir)) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  let w: FSWatcher | undefined;
  try {
    w = watch(dir, { persistent: false }, (_event, name) => {
      if (name && !String(name).endsWith('.cedar')) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
      timer.unref();
    });
    w.on('error', () => undefined);
  } catch {
    return () => undefined;
  }
  return () => {
    if (timer) clearTimeout(timer);
    w?.close();
  };
}
