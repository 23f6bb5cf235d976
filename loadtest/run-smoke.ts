import { main } from './runner.ts';

// `npm run loadtest:smoke`: the same as `npm run loadtest -- smoke` (the Node load
// driver's smoke; `--k6` for the k6 script with your own k6). With BASE_URL set,
// against that cluster; otherwise against a local cluster started here on a fresh
// database and Redis prefix, removed again afterwards.

main('smoke', process.argv.slice(2));
