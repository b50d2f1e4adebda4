/** The portal API, typed from docs/openapi.json (`npm run gen:api` writes ./schema.d.ts). */
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { idToken } from '../auth';

export type Schemas = components['schemas'];
export type ErrorResponse = Schemas['ErrorResponse'];
export type FieldError = Schemas['FieldError'];

export const api = createClient<paths>({ baseUrl: '' });

api.use({
  async onRequest({ request }) {
    const token = await idToken();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
});

/** An API refusal, with the stable `code` the app branches on. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
    readonly contact: string | null = null,
    /** `invoice_changed`: the invoice as the payment processor has it now. */
    readonly invoice: Schemas['ChangedInvoice'] | null = null,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }

  /** The message for one field (from a 422's `details`). */
  field(name: string): string | undefined {
    return this.details.find((d) => d.field === name)?.message;
  }
}

/** What the app tells the user for any failure of a call. */
export function failure(status: number, body: unknown): ApiFailure {
  const e = (body as Partial<ErrorResponse> | null)?.error;
  if (e && typeof e.code === 'string') {
    return new ApiFailure(status, e.code, e.message ?? e.code, e.details ?? [], e.contact ?? null, e.invoice ?? null);
  }
  if (status === 401) return new ApiFailure(401, 'unauthenticated', 'Your session has ended. Sign in again.');
  if (status >= 500) return new ApiFailure(status, 'service_unavailable', 'The service is not answering right now. Try again in a moment.');
  return new ApiFailure(status, 'unknown', `Unexpected answer (HTTP ${status}).`);
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The call's data, or throws an [`ApiFailure`]. */
export async function call<T>(p: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await p;
  } catch {
    throw new ApiFailure(0, 'network', 'The portal cannot reach the server. Check your connection and try again.');
  }
  if (r.response.ok) return r.data as T;
  const f = failure(r.response.status, r.error);
  if (f.status === 401) window.dispatchEvent(new CustomEvent('portal:unauthenticated'));
  throw f;
}
