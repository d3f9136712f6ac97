// A small router: the console's state (page, filters, sorting,
// pagination) lives in the URL under /admin/, so a view can be bookmarked
// and shared. Never the token.
import { useEffect, useState } from "react";

const BASE = "/admin/";

export type Location = { path: string; query: URLSearchParams };

function current(): Location {
  const p = window.location.pathname;
  const path = p.startsWith(BASE) ? p.slice(BASE.length).replace(/\/$/, "") : "";
  return { path, query: new URLSearchParams(window.location.search) };
}

export function navigate(path: string, query?: Record<string, string | number | undefined | null>) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  window.history.pushState(null, "", BASE + path + (s ? `?${s}` : ""));
  window.dispatchEvent(new Event("paradise:navigate"));
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener("popstate", update);
    window.addEventListener("paradise:navigate", update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("paradise:navigate", update);
    };
  }, []);
  return loc;
}

/** The query of the current page, and a setter that merges into it (page resets unless given). */
export function useQuery(): [URLSearchParams, (patch: Record<string, string | number | undefined | null>) => void] {
  const loc = useLocation();
  const set = (patch: Record<string, string | number | undefined | null>) => {
    const next: Record<string, string | number | undefined | null> = Object.fromEntries(loc.query.entries());
    if (!("page" in patch)) delete next.page;
    Object.assign(next, patch);
    navigate(loc.path, next);
  };
  return [loc.query, set];
}

export const num = (q: URLSearchParams, k: string): number | undefined => {
  const v = q.get(k);
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
};
export const str = (q: URLSearchParams, k: string): string | undefined => q.get(k) || undefined;
export const bool = (q: URLSearchParams, k: string): boolean | undefined =>
  q.get(k) === "true" ? true : q.get(k) === "false" ? false : undefined;
