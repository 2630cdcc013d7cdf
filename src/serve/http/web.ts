/**
 * The web view's routes. `/` is the web view's; until the page ships it answers a small
 * placeholder that links the API and the metrics (no script, a strict Content-Security-Policy).
 */
import type { Route } from './router.js';

/** The Content-Security-Policy of HTML pages: nothing but what the page itself ships. */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bpfmap serve</title></head>
<body><h1>bpfmap serve</h1>
<ul><li><a href="/metrics">/metrics</a>: Prometheus metrics of the exported maps</li>
<li><a href="/api/maps">/api/maps</a>: the exported maps (JSON)</li></ul>
</body></html>
`;

/** The routes of the web view. */
export function webRoutes(): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/',
      handler: ({ req, res }) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.setHeader('Content-Security-Policy', PAGE_CSP);
        res.setHeader('Content-Length', Buffer.byteLength(PLACEHOLDER));
        res.end(req.method === 'HEAD' ? undefined : PLACEHOLDER);
      },
    },
  ];
}
