/**
 * The dashboard's files (web/dist) served at `/`: GET and HEAD only, the path resolved inside
 * the folder and nothing outside it (no `..`, no encoded separators, no symlinks out), a content
 * type for each extension, and index.html for `/` and for paths without an extension (the
 * dashboard's own routes). The folder is looked up per request, so a build made after the
 * gateway started is served.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { extname, join, resolve, sep } from 'node:path';

/** Content types of the files a front-end build writes. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

const plain = (res: Response, status: number, text: string) => {
  (res as ServerResponse).writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(`${text}\n`);
};

/** The file a URL path names inside `root`, or undefined when it would leave it or is malformed. */
export function resolveInside(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter(Boolean);
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  const path = resolve(root, ...segments);
  return path === root || path.startsWith(root + sep) ? path : undefined;
}

/** A handler serving the folder `dir` (absolute); answers 404 when the folder does not exist. */
export function staticFiles(dir: string): (req: Request, res: Response) => void {
  const root = resolve(dir);
  const serve = async (req: Request, res: Response) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed');
    const urlPath = (req.url ?? '/').split('?')[0];
    let realRoot: string;
    try {
      realRoot = await realpath(root);
    } catch {
      return plain(res, 404, 'not found (no dashboard build: run the web build)');
    }
    let path = resolveInside(realRoot, urlPath);
    if (!path) return plain(res, 400, 'bad path');
    let info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) {
      path = join(path, 'index.html');
      info = await stat(path).catch(() => undefined);
    } else if (!info && !extname(path)) {
      // A route of the dashboard itself: the page handles it.
      path = join(realRoot, 'index.html');
      info = await stat(path).catch(() => undefined);
    }
    if (!info?.isFile()) return plain(res, 404, 'not found');
    // A symlink inside the folder must not lead out of it.
    const real = await realpath(path);
    if (!real.startsWith(realRoot + sep)) return plain(res, 404, 'not found');
    const type = CONTENT_TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream';
    (res as ServerResponse).writeHead(200, {
      'content-type': type,
      'content-length': info.size,
      'x-content-type-options': 'nosniff',
      // The page must pick up a new build at once; hashed assets could be cached longer.
      'cache-control': extname(real) === '.html' ? 'no-cache' : 'public, max-age=300',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(real)
      .on('error', () => res.destroy())
      .pipe(res as NodeJS.WritableStream);
  };
  return (req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
    });
  };
}
