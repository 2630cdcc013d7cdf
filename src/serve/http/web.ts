/**
 * The web view's routes: `/` (the page), `/app.js`, `/app.css` and `/favicon.svg`. The files ship inside the
 * package (src/serve/web/assets/) and are read once, when the routes are made: the page works on
 * an air-gapped host, with no CDN, and a strict Content-Security-Policy allows only these files
 * and same-origin API calls, so nothing a map holds can run as script.
 */
import { readFileSync } from 'node:fs';
import { packageFile } from '../../package-root.js';
import type { Route } from './router.js';

/** The Content-Security-Policy of HTML pages: nothing but what the page itself ships. */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The package's src/serve/web/assets (shipped in the tarball). */
const ASSETS_DIR = 'src/serve/web/assets';

interface Asset {
  readonly path: string;
  readonly file: string;
  readonly type: string;
}

const ASSETS: readonly Asset[] = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
  { path: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
];

/** The routes of the web view. */
export function webRoutes(): Route[] {
  return ASSETS.map((asset) => {
    const body = readFileSync(packageFile(`${ASSETS_DIR}/${asset.file}`));
    return {
      method: 'GET',
      pattern: asset.path,
      handler: ({ req, res }) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', asset.type);
        res.setHeader('Content-Security-Policy', PAGE_CSP);
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Referrer-Policy', 'no-referrer');
        res.setHeader('Cache-Control', 'no-cache');
        res.setHeader('Content-Length', body.length);
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    } satisfies Route;
  });
}
