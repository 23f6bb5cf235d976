import { startProbeGateway } from './probe-gateway.ts';

// The gateway's heap per idle connection, measured exactly: forced GCs before
// and after N connections of one kind that a child process opens and holds.
// The bench's idle section reads a running cluster's heap gauge, GC whenever;
// this tells a change of a few dozen bytes per connection from noise.
//
//   node --expose-gc scripts/bench/heap-per-connection.ts <ws|sio> [connections]

const [kind = 'sio', count = '3000'] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if ((kind !== 'ws' && kind !== 'sio') || !Number.isInteger(Number(count)) || !gc) {
  console.error('usage: node --expose-gc scripts/bench/heap-per-connection.ts <ws|sio> [connections]');
  process.exit(2);
}
const n = Number(count);

const probe = await startProbeGateway({ label: 'heap_probe', users: 50, logLevel: 'silent', metrics: false });

/** Heap in use once garbage is gone: several collections, with turns of the event loop between. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return process.memoryUsage().heapUsed;
}

// A first round warms up what is compiled or cached lazily, so it is not counted per connection.
(await probe.hold(kind, 200)).kill();
await new Promise((resolve) => setTimeout(resolve, 1_000));
const before = await settledHeap();
const clients = await probe.hold(kind, n);
const after = await settledHeap();
console.log(JSON.stringify({ kind, connections: n, heapPerConnectionBytes: Math.round((after - before) / n) }));

clients.kill();
await probe.stop();
