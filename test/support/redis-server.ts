// A real redis-server for one test file: see e2e/redis-server.mjs, which the benchmarks use too.
export { startRedis, type RedisServer } from '../../e2e/redis-server.mjs';
