import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, call, type Schemas } from '../api/client';
import { cardLabel, date, isPositive, money } from '../format';
import { can, roleOn, useSession } from '../session';
import { Alert, Button, Failure, Loading, PageTitle, goTo, poll, stashIds, takeStashedIds, useAction, useLoad } from '../ui';
import { getMethods, getStatement, path } from './data';
import { Invoice } from './bills';

/** Where the invoices a payment was started for wait out the redirect to Checkout. */
const pendingKey = (account: string) => `portal.paying.${account}`;

type Settle = { state: 'waiting' | 'settled' | 'slow'; ids: string[] };

/** Waits until none of `ids` is open any more, as the webhook records Stripe's events. */
async function waitSettled(account: string, ids: string[]): Promise<boolean> {
  return poll(async () => {
    const s = await getStatement(account);
    return !s.open_invoices.some((i) => ids.includes(i.id));
  }, 1000, 60000);
}

export function Billing() {
  const { params } = useRoute();
  const { query, route } = useLocation();
  const id = params['id']!;
  const { me } = useSession();
  const role = roleOn(me, id);
  const load = useLoad(() => Promise.all([getStatement(id), getMethods(id)]), [id]);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [settle, setSettle] = useState<Settle | null>(null);
  const [declined, setDeclined] = useState<string[]>([]);

  // Back from Checkout: show the settled state once the webhook has recorded it, never before.
  useEffect(() => {
    const back = query['checkout'];
    if (!back) return;
    const ids = takeStashedIds(pendingKey(id));
    route(`/accounts/${encodeURIComponent(id)}/billing`, true);
    if (back === 'success' && ids.length > 0) void track(ids);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const track = async (ids: string[]) => {
    setSettle({ state: 'waiting', ids });
    const ok = await waitSettled(id, ids);
    // The settled balance is on the page before the page says so.
    await load.reload();
    setSettle({ state: ok ? 'settled' : 'slow', ids });
  };

  const [lastPayWith, setLastPayWith] = useState<Schemas['PayWith']>('auto');
  const pay = useAction(async (payWith: Schemas['PayWith'], ids: string[], expected?: Schemas['ExpectedAmount'][]) => {
    setDeclined([]);
    setLastPayWith(payWith);
    const body = { pay_with: payWith, invoice_ids: ids, ...(expected ? { expected_amounts: expected } : {}) };
    const r = await call(api.POST('/v1/accounts/{account_id}/payments', { ...path(id), body }));
    if (r.mode === 'checkout') {
      stashIds(pendingKey(id), r.invoice_ids);
      goTo(r.url);
      return;
    }
    const paid = r.results.filter((x) => x.outcome === 'paid' || x.outcome === 'already_paid').map((x) => x.invoice_id);
    const failed = r.results.filter((x) => x.outcome === 'declined' || x.outcome === 'action_required');
    setDeclined(failed.map((x) => (x.outcome === 'declined' ? x.message : 'Your bank asks you to confirm this payment; pay with another card.')));
    if (paid.length > 0) await track(paid);
    else await load.reload();
  });

  if (load.error) return <Failure error={load.error} />;
  if (!load.data) return <Loading />;
  const [statement, methods] = load.data;
  const open = statement.open_invoices.filter((i) => isPositive(i.amount_remaining));
  // A bill e-mail's pay link names its bill: chosen alone while it is open, else every open bill.
  const linked = open.find((i) => i.id === query['invoice']);
  const selected = chosen ?? (linked ? [linked.id] : open.map((i) => i.id));
  const def = methods.payment_methods.find((m) => m.default);
  const toggle = (inv: string, on: boolean) => setChosen(on ? [...new Set([...selected, inv])] : selected.filter((x) => x !== inv));
  const manage = can.manageBilling(role);
  // A bill that changed at the processor since it was listed: offered again at its new amount.
  const changed = pay.error?.code === 'invoice_changed' && pay.error.invoice?.status === 'open' ? pay.error.invoice : null;
  return (
    <>
      <PageTitle>Pay</PageTitle>
      {settle?.state === 'waiting' && (
        <Alert kind="info">
          <span aria-busy="true">Payment sent. Waiting for the payment processor to confirm it…</span>
        </Alert>
      )}
      {settle?.state === 'settled' && <Alert kind="success">Payment received. Thank you.</Alert>}
      {settle?.state === 'slow' && (
        <Alert kind="info">The payment has not been confirmed yet. It can take a few minutes; this page shows it once it is.</Alert>
      )}
      {query['checkout'] === 'cancelled' && <Alert kind="info">Payment cancelled. Nothing was charged.</Alert>}
      {declined.map((m) => (
        <Alert key={m}>The card was declined: {m}. Try another card.</Alert>
      ))}
      <section class="card">
        <h2>Balance due</h2>
        <p class="big" data-testid="balance-due">
          {money(statement.balance_due)}
        </p>
      </section>
      {open.length === 0 ? (
        <p>There is nothing to pay.</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
          }}
        >
          <fieldset>
            <legend>Bills to pay</legend>
            {open.map((i) => (
              <label class="check" key={i.id}>
                <input type="checkbox" checked={selected.includes(i.id)} disabled={!manage} onChange={(e) => toggle(i.id, (e.target as HTMLInputElement).checked)} />
                <span>
                  Bill <a href={`/accounts/${encodeURIComponent(id)}/bills/${encodeURIComponent(i.id)}`}>{i.number ?? i.id}</a> of {date(i.created)}
                  {i.due_date ? `, due ${date(i.due_date)}` : ''}: <strong>{money(i.amount_remaining)}</strong>
                </span>
              </label>
            ))}
          </fieldset>
          {changed ? (
            <Alert kind="info">
              <span>
                Bill {open.find((i) => i.id === changed.id)?.number ?? changed.id} changed at the payment processor: {money(changed.amount_remaining)} is left to pay on it now.
              </span>{' '}
              <Button
                type="button"
                kind="secondary"
                pending={pay.pending}
                onClick={() => void pay.run(lastPayWith, selected, [{ invoice_id: changed.id, amount_remaining: changed.amount_remaining }])}
              >
                Pay {money(changed.amount_remaining)} for it
              </Button>
            </Alert>
          ) : (
            <Failure error={pay.error} />
          )}
          {manage ? (
            <div class="actions">
              {def && (
                <Button type="button" pending={pay.pending} disabled={selected.length === 0} onClick={() => void pay.run('default_method', selected)}>
                  Pay with {cardLabel(def)}
                </Button>
              )}
              <Button type="button" kind={def ? 'secondary' : 'primary'} pending={pay.pending} disabled={selected.length === 0} onClick={() => void pay.run('checkout', selected)}>
                {def ? 'Pay with another card' : 'Pay by card'}
              </Button>
            </div>
          ) : (
            <p class="muted">Only admin and billing users of this account can pay.</p>
          )}
        </form>
      )}
      {statement.latest_invoice && (
        <details class="card">
          <summary>The latest bill, itemized</summary>
          <Invoice invoice={statement.latest_invoice} account={id} canPay={false} heading={false} />
        </details>
      )}
    </>
  );
}
