import type * as http from 'node:http';

export const HOST: '127.0.0.1';
export function listen(server: http.Server): Promise<number>;
export function stop(server: http.Server): Promise<void>;
export function serve(handler: http.RequestListener): Promise<{ server: http.Server; origin: string; close(): Promise<void> }>;
