/** The reads several pages share. */
import { api, call, type Schemas } from '../api/client';

export const path = (account_id: string) => ({ params: { path: { account_id } } });

export const getAccount = (id: string) => call(api.GET('/v1/accounts/{account_id}', path(id)));
export const getStatement = (id: string) => call(api.GET('/v1/accounts/{account_id}/statement', path(id)));
export const getMethods = (id: string) => call(api.GET('/v1/accounts/{account_id}/payment-methods', path(id)));
export const getSeats = (id: string) => call(api.GET('/v1/accounts/{account_id}/seats', path(id)));

/** The account's seat subscription, or null when it has none (404 `no_subscription`). */
export async function getSubscription(id: string): Promise<Schemas['SubscriptionView'] | null> {
  try {
    return await call(api.GET('/v1/accounts/{account_id}/subscription', path(id)));
  } catch (e) {
    if ((e as { code?: string }).code === 'no_subscription') return null;
    throw e;
  }
}

/** The customer portal at the payment processor: receipts, invoice PDFs, payment history. */
export async function openProcessorPortal(id: string): Promise<string> {
  const r = await call(
    api.POST('/v1/accounts/{account_id}/billing-portal-session', {
      ...path(id),
      body: { return_url: `${window.location.origin}/accounts/${encodeURIComponent(id)}/bills` },
    }),
  );
  return r.url;
}
