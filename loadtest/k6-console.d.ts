// k6 gives scripts a console (https://grafana.com/docs/k6/latest/javascript-api/#console)
// that @types/k6 does not declare. Declared the way lib.dom and @types/node do, so it
// merges with theirs where those are loaded too (the root project includes this file).
export {};

declare global {
  interface Console {
    debug(...data: unknown[]): void;
    error(...data: unknown[]): void;
    info(...data: unknown[]): void;
    log(...data: unknown[]): void;
    warn(...data: unknown[]): void;
  }
  var console: Console;
}
