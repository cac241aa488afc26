// The demo agent: greets, asks the gateway for the time through the pipeline, and returns.
// It runs in a fresh isolate per request and sees nothing but `ctx`.
export default async function demo(input, ctx) {
  const time = await ctx.tools.call('system.time', {});
  ctx.log('demo agent ran', { runId: ctx.runId });
  return {
    greeting: `hello, ${input && typeof input.name === 'string' ? input.name : 'world'}`,
    gatewayTime: time.ok ? time.result.iso : null,
    runId: ctx.runId,
  };
}
