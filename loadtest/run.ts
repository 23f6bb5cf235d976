import { isScenario, main, SCENARIOS } from './runner.ts';

// `npm run loadtest -- <scenario> [-e NAME=value ...]`: one scenario against a
// cluster this starts on a fresh database and removes again, or against BASE_URL
// (and GATEWAY_URL for reconnect-storm) when set. smoke and ramp run on the
// project's Node load driver (loadtest/node/); `--k6` runs the k6 script of any
// scenario with your own k6 (PATH or K6_BIN; the project never installs it), and
// passes the other arguments to `k6 run`. Settings of the scenarios are
// environment variables (see loadtest/README.md), e.g.
//   DURATION_SECONDS=30 npm run loadtest -- ramp
//   npm run loadtest -- spike --k6 -e CLIENTS=500

const [name, ...args] = process.argv.slice(2);
if (!name || !isScenario(name)) {
  console.error(`usage: npm run loadtest -- <${SCENARIOS.join('|')}> [--k6] [-e NAME=value ...] [other k6 run arguments, with --k6]`);
  process.exit(2);
}
main(name, args);
