/**
 * LOOK-ALIKE of hosted model APIs (no model is reachable on this machine): a small HTTP server
 * speaking the OpenAI chat-completions and Anthropic Messages wire formats, as documented by
 * their API references, replying from a script. Test tree only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export type ScriptedReply = { content?: string; toolCalls?: Array<{ id: string; name: string; arguments: unknown }> };

export interface ModelLookalike {
  url: string;
  requests: Array<{ path: string; headers: IncomingMessage['headers']; body: any }>;
  close(): Promise<void>;
}

export async function startModelLookalike(script: ScriptedReply[] | ((body: any, n: number) => ScriptedReply)): Promise<ModelLookalike> {
  const requests: ModelLookalike['requests'] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : {};
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      const r = typeof script === 'function' ? script(body, n) : (script[Math.min(n, script.length - 1)] ?? { content: '' });
      n++;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/chat/completions') {
        res.end(JSON.stringify({
          id: `chatcmpl-${n}`, object: 'chat.completion', model: body.model,
          choices: [{ index: 0, finish_reason: r.toolCalls?.length ? 'tool_calls' : 'stop', message: { role: 'assistant', content: r.content ?? null, ...(r.toolCalls?.length ? { tool_calls: r.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) } : {}) } }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }));
      } else if (req.url === '/v1/messages') {
        res.end(JSON.stringify({
          id: `msg_${n}`, type: 'message', role: 'assistant', model: body.model,
          content: [...(r.content ? [{ type: 'text', text: r.content }] : []), ...(r.toolCalls ?? []).map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments }))],
          stop_reason: r.toolCalls?.length ? 'tool_use' : 'end_turn',
          usage: { input_tokens: 10, output_tokens: 5 },
        }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { message: 'not found' } }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}
