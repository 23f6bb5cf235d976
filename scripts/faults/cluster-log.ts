import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface LogLine {
  at: number;
  name: string;
  line: string;
}

/**
 * Every line the cluster's processes print, written to a file (the evidence
 * when a phase fails) and kept in memory so phases can look for what the
 * replicas and the runner said.
 */
export class ClusterLog {
  readonly path = path.join(tmpdir(), `chat-faults-${new Date().toISOString().replaceAll(':', '-')}.log`);
  readonly lines: LogLine[] = [];
  private readonly file = createWriteStream(this.path);

  readonly output = (name: string, line: string) => {
    const at = Date.now();
    this.lines.push({ at, name, line });
    this.file.write(`${new Date(at).toISOString()} ${name.padEnd(10)} | ${line}\n`);
  };

  /** Writes a line of the suite's own into the file, between the cluster's. */
  note(line: string): void {
    this.output('faults', line);
  }

  between(from: number, to: number, match: (l: LogLine) => boolean): LogLine[] {
    return this.lines.filter((l) => l.at >= from && l.at <= to && match(l));
  }

  /** Resolves with the first line at or after `from` that matches, or undefined at `deadline`. */
  async waitFor(from: number, deadline: number, match: (l: LogLine) => boolean): Promise<LogLine | undefined> {
    for (;;) {
      const found = this.lines.find((l) => l.at >= from && match(l));
      if (found || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.file.end(resolve));
  }
}
