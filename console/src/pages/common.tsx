import { useCallback, useEffect, useState } from "react";
import { Alert, App } from "antd";
import type { SorterResult } from "antd/es/table/interface";
import { ApiError } from "../api";
import { useT } from "../i18n";

/** Loads data when deps change; errors are the envelope's message. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(null);
      })
      .catch((e: Error) => live && setError(e.message))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Runs a write and reports its outcome; resolves true on success. */
export function useAction() {
  const { message } = App.useApp();
  const t = useT();
  return async (run: () => Promise<unknown>, ok?: string): Promise<boolean> => {
    try {
      await run();
      message.success(ok ?? t("done"));
      return true;
    } catch (e) {
      const err = e as ApiError;
      message.error(err.message);
      return false;
    }
  };
}

export function ErrorBanner({ error }: { error: string | null }) {
  return error ? <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} /> : null;
}

/** The ordering query value of a table sorter ("-field" descending). */
export function ordering<T>(s: SorterResult<T> | SorterResult<T>[]): string | undefined {
  const one = Array.isArray(s) ? s[0] : s;
  if (!one || !one.order || !one.field) return undefined;
  return (one.order === "descend" ? "-" : "") + String(one.field);
}

/** The sort order antd shows for a column, from the ordering query value. */
export function sortOrder(current: string | undefined, field: string): "ascend" | "descend" | null {
  if (current === field) return "ascend";
  if (current === `-${field}`) return "descend";
  return null;
}

export const fmt = (s: string | null | undefined) => (s ? new Date(s).toLocaleString() : "—");

/** A JSON value in full, indented and wrapped inside its cell. */
export function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <>—</>;
  return (
    <pre style={{ margin: 0, whiteSpace: "pre-wrap", wordBreak: "break-all", fontSize: 12 }}>{JSON.stringify(value, null, 2)}</pre>
  );
}
