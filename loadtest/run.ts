import { isScenario, main, SCENARIOS } from './runner.ts';

// `npm run loadtest -- <scenario> [k6 run args]`: one k6 scenario against a cluster
// this starts on a fresh database and removes again, or against BASE_URL (and
// GATEWAY_URL for reconnect-storm) when set. Settings of the scenarios are
// environment variables (see loadtest/README.md), e.g.
//   DURATION_SECONDS=30 npm run loadtest -- ramp
//   npm run loadtest -- spike -e CLIENTS=500

const [name, ...k6Args] = process.argv.slice(2);
if (!name || !isScenario(name)) {
  console.error(`usage: npm run loadtest -- <${SCENARIOS.join('|')}> [k6 run arguments]`);
  process.exit(2);
}
main(name, k6Args);
