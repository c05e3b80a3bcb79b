export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  pid: number;
  /** Stops it by its PID (SIGTERM, then SIGKILL after 3 s) and removes its directory. */
  stop(): Promise<void>;
}

export function startRedis(options?: { port?: number }): Promise<RedisServer>;
