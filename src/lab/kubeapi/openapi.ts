/** OpenAPI documents for kubectl (filled in by a later commit). */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function serveOpenApi(_path: string, _req: IncomingMessage, _res: ServerResponse): boolean {
  return false;
}
