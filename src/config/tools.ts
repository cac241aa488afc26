/**
 * The gateway's tool catalogue: every tool name a config may allow or deny. The gateway registers
 * exactly these (it checks at start), so a name outside this list can never match a call: in an
 * allow list it grants nothing, in a deny list it denies nothing, which is why it is an error.
 */
export const TOOL_CATALOG: readonly string[] = ['system.time', 'model.chat', 'fs.read', 'fs.write', 'fs.list', 'fs.stat', 'http.fetch', 'exec.run'];

/** Group patterns a rule may use: `*` and `<namespace>.*` for each namespace of the catalogue. */
export function toolGroups(tools: readonly string[] = TOOL_CATALOG): string[] {
  return ['*', ...new Set(tools.filter((t) => t.includes('.')).map((t) => `${t.slice(0, t.lastIndexOf('.'))}.*`))];
}
