// Property tests explore new cases on every local run; in CI they replay one fixed seed so that
// a landing never depends on luck. FC_SEED=<n> replays a reported failure anywhere.
import fc from 'fast-check';

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : process.env.CI ? 20261125 : undefined;
if (seed !== undefined) fc.configureGlobal({ seed });
