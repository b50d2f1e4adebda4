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

/** What a contract account has used this period and its next bill (an estimate); null for an
 * account billed by card (404 `not_contract_billed`); for an invoice account whose contract is not
 * loaded yet (404 `contract_not_set_up`), the API's sentence saying so. */
export async function getContractOutlook(
  id: string,
): Promise<
  { usage: Schemas['UsageView']; upcoming: Schemas['UpcomingBillView'] } | { pending: string } | null
> {
  try {
    const [usage, upcoming] = await Promise.all([
      call(api.GET('/v1/accounts/{account_id}/usage', path(id))),
      call(api.GET('/v1/accounts/{account_id}/invoices/upcoming', path(id))),
    ]);
    return { usage, upcoming };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'not_contract_billed') return null;
    if (err.code === 'contract_not_set_up') return { pending: err.message ?? '' };
    throw e;
  }
}

/** A link to a bill's PDF (a contract bill's stored one lasts a few minutes: fetch it on click). */
export async function pdfLink(account_id: string, invoice_id: string): Promise<string> {
  const r = await call(
    api.GET('/v1/accounts/{account_id}/invoices/{invoice_id}/pdf', {
      params: { path: { account_id, invoice_id } },
      headers: { accept: 'application/json' },
    }),
  );
  return r.url;
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
