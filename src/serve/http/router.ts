/**
 * The route table of `bpfmap serve`: method, path pattern (`/api/maps/:id`), handler. Routes are
 * added by feature (metrics, API, web view), so another part can plug its own in; the first
 * matching pattern wins, a path that matches with another method is a 405.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, notFound } from './errors.js';

/** Methods routes answer. */
export type Method = 'GET' | 'PUT' | 'DELETE' | 'POST';

/** What a handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** `:name` parts of the pattern. */
  readonly params: Readonly<Record<string, string>>;
  /** The authenticated user (basic auth), undefined without auth. */
  readonly user: string | undefined;
}

/** A route. */
export interface Route {
  readonly method: Method;
  /** `/literal/:param/...`; a trailing `*` matches the rest of the path (as the param `rest`). */
  readonly pattern: string;
  readonly handler: (context: RouteContext) => void | Promise<void>;
  /** True for routes that change maps: refused unless writes are allowed and auth is configured. */
  readonly writes?: boolean;
}

interface CompiledRoute {
  readonly route: Route;
  readonly regex: RegExp;
  readonly names: readonly string[];
}

/** A matched route and its params. */
export interface RouteMatch {
  readonly route: Route;
  readonly params: Record<string, string>;
}

/** The route table. */
export class Router {
  readonly #routes: CompiledRoute[] = [];

  /** Adds routes (later ones match after earlier ones). */
  add(...routes: Route[]): this {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.pattern.split('/').map((part) => {
        if (part === '*') {
          names.push('rest');
          return '(.*)';
        }
        if (part.startsWith(':')) {
          names.push(part.slice(1));
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }).join('/');
      this.#routes.push({ route, regex: new RegExp(`^${source}$`), names });
    }
    return this;
  }

  /** The route for a request. @throws HttpError 404 or 405 */
  match(method: string, path: string): RouteMatch {
    const allowed = new Set<string>();
    for (const { route, regex, names } of this.#routes) {
      const found = regex.exec(path);
      if (found === null) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        allowed.add(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1] ?? '');
      });
      return { route, params };
    }
    if (allowed.size > 0) throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`, { Allow: [...allowed].join(', ') });
    throw notFound(`no route for ${path}`);
  }
}
