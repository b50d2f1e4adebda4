/** Small building blocks every page uses: loading data, alerts, labelled fields, buttons. */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiFailure } from './api/client';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Loads `fn` when `deps` change; `reload` loads again without clearing what is shown. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiFailure>();
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const d = await fn();
      if (mine === seq.current) {
        setData(d);
        setError(undefined);
      }
    } catch (e) {
      if (mine === seq.current) setError(asFailure(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    setData(undefined);
    void run();
  }, [run]);
  return { data, error, loading, reload: run };
}

export function asFailure(e: unknown): ApiFailure {
  if (e instanceof ApiFailure) return e;
  return new ApiFailure(0, 'client', (e as Error)?.message || 'Something went wrong.');
}

/** Runs an action, keeping its pending state and failure for the form that started it. */
export function useAction<A extends unknown[], R>(fn: (...a: A) => Promise<R>) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiFailure>();
  const run = async (...a: A): Promise<R | undefined> => {
    setPending(true);
    setError(undefined);
    try {
      return await fn(...a);
    } catch (e) {
      setError(asFailure(e));
      return undefined;
    } finally {
      setPending(false);
    }
  };
  return { run, pending, error, setError };
}

export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // Move focus to the new page's heading so screen readers announce the page change.
    ref.current?.focus();
    document.title = `${typeof children === 'string' ? children : 'Billing'} · Billing portal`;
  }, [children]);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

export function Alert({ kind = 'error', children }: { kind?: 'error' | 'info' | 'success'; children: ComponentChildren }) {
  return (
    <div class={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** A failure as the user reads it; `contact` (sales) is shown as a mail link. */
export function Failure({ error }: { error: ApiFailure | undefined }) {
  if (!error) return null;
  return (
    <Alert>
      {sentence(error.message)}
      {error.contact && (
        <>
          {' '}
          <a href={`mailto:${error.contact}`}>{error.contact}</a>
        </>
      )}
    </Alert>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/** Shows `error` or a loading line until `data` is there. */
export function Show<T>({ load, children }: { load: Loaded<T>; children: (d: T) => ComponentChildren }) {
  if (load.data !== undefined) return <>{children(load.data)}</>;
  if (load.error) return <Failure error={load.error} />;
  return <Loading />;
}

/** The input attributes the forms use. */
interface InputProps {
  type?: 'text' | 'email' | 'password' | 'tel' | 'date';
  required?: boolean;
  disabled?: boolean;
  autoComplete?: string;
  inputMode?: 'numeric' | 'text' | 'email' | 'tel';
  maxLength?: number;
}

/** A labelled input whose error (from the API's 422 `details`) sits under it. */
export function Field({
  label,
  value,
  onValue,
  error,
  hint,
  ...rest
}: { label: string; value: string; onValue: (v: string) => void; error?: string | undefined; hint?: string } & InputProps) {
  const id = useId();
  const describedBy = [error ? `${id}-err` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${error ? ' field-invalid' : ''}`}>
      <label for={id}>{label}</label>
      <input
        id={id}
        value={value}
        onInput={(e) => onValue((e.target as HTMLInputElement).value)}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy}
        // Preact's input types are a union keyed by `type`; these few attributes fit every member.
        {...(rest as Record<string, unknown>)}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-err`}>
          {sentence(error)}
        </p>
      )}
    </div>
  );
}

export function Select<T extends string>({
  label,
  value,
  options,
  onValue,
  disabled,
}: {
  label: string;
  value: T;
  options: [T, string][];
  onValue: (v: T) => void;
  disabled?: boolean;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} disabled={disabled} onChange={(e) => onValue((e.target as HTMLSelectElement).value as T)}>
        {options.map(([v, l]) => (
          <option value={v} key={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Button({
  pending,
  children,
  kind = 'primary',
  ...rest
}: { pending?: boolean; kind?: 'primary' | 'secondary' | 'danger' } & JSX.IntrinsicElements['button']) {
  return (
    <button class={`btn btn-${kind}`} disabled={pending || (rest.disabled as boolean)} aria-busy={pending ? 'true' : undefined} {...rest}>
      {children}
    </button>
  );
}

/** Calls `check` every `everyMs` until it returns true or `maxMs` passes; returns whether it did. */
export async function poll(check: () => Promise<boolean>, everyMs = 1000, maxMs = 60000): Promise<boolean> {
  const until = Date.now() + maxMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Cursor paging, newest first: the cursor of the page shown, and a pager to move between pages
 * (the cursors of the pages before this one are kept for "Newer"). */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const pager = (label: string, next: string | null | undefined) => (
    <nav class="pager" aria-label={label}>
      {cursors.length > 1 && (
        <Button kind="secondary" onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </Button>
      )}
      {next && (
        <Button kind="secondary" onClick={() => setCursors([...cursors, next])}>
          Older
        </Button>
      )}
    </nav>
  );
  return { cursor: cursors[cursors.length - 1], reset: () => setCursors([undefined]), pager };
}

/** Keeps ids across the redirect to the payment processor and back (this tab only). */
export function stashIds(key: string, ids: string[]): void {
  sessionStorage.setItem(key, JSON.stringify(ids));
}

/** The ids [`stashIds`] kept under `key`, removed as they are read; none when absent or mangled. */
export function takeStashedIds(key: string): string[] {
  const raw = sessionStorage.getItem(key);
  sessionStorage.removeItem(key);
  try {
    const v: unknown = JSON.parse(raw ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** A message as a sentence: its first letter upper-case (the API's messages start lower-case). */
export const sentence = (m: string): string => m.charAt(0).toUpperCase() + m.slice(1);

/** Hands `blob` to the browser as a download named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Sends the browser to a page of the payment processor (Checkout, customer portal). */
export function goTo(url: string): void {
  window.location.assign(url);
}
