import { startProbeGateway } from './probe-gateway.ts';

// The gateway's own CPU per connect and per disconnect, measured exactly: one
// gateway in this process (logging at info to /dev/null, metrics on), a child
// that opens N connections of one kind and holds them, process.cpuUsage()
// around each phase, several rounds. The `door` and `idle` sections measure
// the same through /proc among every other process; this tells a change of a
// few dozen microseconds per connect from noise. With --cpu-prof, the profile
// shows where a connect's time goes.
//
//   node [--cpu-prof] scripts/bench/connect-cost.ts <ws|sio> [connections] [users] [rounds]

const [kind = 'ws', count = '2000', userCount = '200', roundCount = '5'] = process.argv.slice(2);
if ((kind !== 'ws' && kind !== 'sio') || ![count, userCount, roundCount].every((x) => Number.isInteger(Number(x)))) {
  console.error('usage: node scripts/bench/connect-cost.ts <ws|sio> [connections] [users] [rounds]');
  process.exit(2);
}
const n = Number(count);

// As in production, every connect and disconnect is logged (here to /dev/null), and metrics are on.
const probe = await startProbeGateway({ label: 'connect_cost', users: Number(userCount), logLevel: 'info', metrics: true });

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A first round warms up what is compiled or cached lazily.
(await probe.hold(kind, 200)).kill();
await sleep(1_000);
const rounds: { connectUs: number; disconnectUs: number }[] = [];
for (let r = 0; r < Number(roundCount); r++) {
  const start = process.cpuUsage();
  const clients = await probe.hold(kind, n);
  const opened = process.cpuUsage(start);
  const closing = process.cpuUsage();
  clients.kill('SIGKILL');
  // Until every disconnect was handled: the gateway's own gauge is back to 0.
  for (;;) {
    await sleep(100);
    const text = await probe.metrics.registry.getSingleMetricAsString('chat_socket_connections');
    if (!/} [1-9]/.test(text)) break;
  }
  const closed = process.cpuUsage(closing);
  rounds.push({ connectUs: (cpuMs(opened) * 1000) / n, disconnectUs: (cpuMs(closed) * 1000) / n });
  await sleep(500);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(
  JSON.stringify({
    kind,
    connections: n,
    users: Number(userCount),
    connectUsMedian: Math.round(median(rounds.map((r) => r.connectUs))),
    disconnectUsMedian: Math.round(median(rounds.map((r) => r.disconnectUs))),
    rounds: rounds.map((r) => ({ connectUs: Math.round(r.connectUs), disconnectUs: Math.round(r.disconnectUs) })),
  }),
);

await probe.stop();
