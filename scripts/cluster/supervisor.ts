import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** How soon a crashed process is started again: doubling delays, forgiven once it stays up. */
export interface RestartPolicy {
  initialMs: number;
  maxMs: number;
  /** A process that ran this long before exiting counts as healthy: its next delay is `initialMs` again. */
  stableMs: number;
}

// Docker's restart policy has the same shape; these numbers suit a developer's machine.
const RESTART_POLICY: RestartPolicy = { initialMs: 500, maxMs: 10_000, stableMs: 10_000 };

export interface Supervised {
  readonly name: string;
  /** The running process's id; undefined while it waits to be restarted and once stopped. */
  pid(): number | undefined;
  /** Sends `signal` as anyone outside could: if the process exits, it is restarted. Returns whether one was running. */
  kill(signal: NodeJS.Signals): boolean;
  /** Stops for good: no restart, SIGKILL after `graceMs`. Resolves with the exit code (null if signalled or not running). */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<number | null>;
}

export interface SuperviseOptions {
  name: string;
  spawn: () => ChildProcess;
  /** The child leads a process group of its own (a shell pipeline): signals go to the whole group. */
  group: boolean;
  /** The runner's own log. */
  log: (line: string) => void;
  /**
   * Told of every exit nobody asked for, as "exited with code 137 (signal SIGKILL)";
   * answers whether to restart. The cluster says no until start-up is over, where an
   * exit means a broken set-up that restarting would only repeat.
   */
  onCrash: (name: string, how: string) => boolean;
  policy?: RestartPolicy;
}

export const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/** Like a shell reports it: a death by signal is 128 plus the signal's number. */
function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `exited with code ${128 + (constants.signals[signal] ?? 0)} (signal ${signal})`;
  return `exited with code ${code ?? 'unknown'}`;
}

function signalGroup(leader: number, signal: NodeJS.Signals) {
  try {
    process.kill(-leader, signal);
  } catch {
    // the group is already empty
  }
}

/** Keeps one named process running, like compose's `restart: unless-stopped`. */
export function supervise(opts: SuperviseOptions): Supervised {
  const policy = opts.policy ?? RESTART_POLICY;
  let current: ChildProcess | undefined;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let delay = policy.initialMs;

  const send = (child: ChildProcess, signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (opts.group && child.pid !== undefined) signalGroup(child.pid, signal);
    else child.kill(signal);
  };

  function launch() {
    const child = opts.spawn();
    const startedAt = Date.now();
    current = child;
    // Unhandled, this event would crash the runner and orphan every other child.
    child.on('error', (error) => opts.log(`${opts.name}: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (current === child) current = undefined;
      // The group's leader is gone, but what it started may not be (nginx's
      // workers after a SIGKILL of its master); they would hold the port.
      if (opts.group && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      if (stopped) return;
      const how = describeExit(code, signal);
      if (!opts.onCrash(opts.name, how)) {
        opts.log(`${opts.name} ${how}`);
        return;
      }
      if (Date.now() - startedAt >= policy.stableMs) delay = policy.initialMs;
      opts.log(`${opts.name} ${how}; restarting in ${delay} ms`);
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        // stop() clears this timer, so a restart never races a shutdown.
        if (stopped) return;
        launch();
        opts.log(`${opts.name} restarted (pid ${current?.pid ?? 'unknown'})`);
      }, delay);
      delay = Math.min(delay * 2, policy.maxMs);
    });
  }

  launch();

  return {
    name: opts.name,
    pid: () => current?.pid,
    kill(signal) {
      if (!current) return false;
      send(current, signal);
      return true;
    },
    async stop(signal, graceMs) {
      stopped = true;
      clearTimeout(restartTimer);
      const child = current;
      if (!child) return null;
      send(child, signal);
      const killer = setTimeout(() => send(child, 'SIGKILL'), graceMs);
      const code = await exitOf(child);
      clearTimeout(killer);
      return code;
    },
  };
}
