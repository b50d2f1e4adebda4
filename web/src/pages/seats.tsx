import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { ApiFailure, api, call, type Schemas } from '../api/client';
import { date, dateTime, money, period } from '../format';
import { can, roleOn, useSession } from '../session';
import { Alert, Button, Failure, Field, Loading, PageTitle, Select, goTo, poll, useAction, useLoad } from '../ui';
import { getAccount, getSeats, getSubscription, openProcessorPortal, path } from './data';

/** A whole number of seats from what was typed, or an error a person can act on. */
export function parseQuantity(raw: string, min = 1): { ok: true; value: number } | { ok: false; message: string } {
  const t = raw.trim();
  if (!/^\d+$/.test(t)) return { ok: false, message: 'Enter a whole number of seats.' };
  const n = Number.parseInt(t, 10);
  if (n < min) return { ok: false, message: `At least ${min}.` };
  return { ok: true, value: n };
}

export function Seats() {
  const { params } = useRoute();
  const { query, route } = useLocation();
  const id = params['id']!;
  const { me } = useSession();
  const role = roleOn(me, id);
  const load = useLoad(() => Promise.all([getAccount(id), getSubscription(id), getSeats(id)]), [id]);
  const [note, setNote] = useState<string>();

  // Back from Checkout: the subscription appears when the webhook has recorded it.
  useEffect(() => {
    const back = query['checkout'];
    if (!back) return;
    route(`/accounts/${encodeURIComponent(id)}/seats`, true);
    if (back === 'cancelled') {
      setNote('Checkout cancelled. Nothing was bought.');
      return;
    }
    setNote('Payment sent. Waiting for the payment processor to confirm your seats…');
    void poll(async () => (await getSubscription(id)) !== null, 1000, 60000).then(async (ok) => {
      await load.reload();
      setNote(ok ? 'Your seats are ready.' : 'Your seats are not confirmed yet. This page shows them once they are.');
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  if (load.error) return <Failure error={load.error} />;
  if (!load.data) return <Loading />;
  const [account, subscription, seats] = load.data;
  const manage = can.manageBilling(role);
  return (
    <>
      <PageTitle>Seats</PageTitle>
      {note && <Alert kind="info">{note}</Alert>}
      {account.billing_mode === 'invoice' ? (
        <ContractSeats id={id} manage={manage} />
      ) : subscription ? (
        <>
          <Subscription s={subscription} />
          {manage && <AddSeats id={id} s={subscription} onDone={load.reload} />}
          {manage && <ReceiptsLink id={id} />}
        </>
      ) : manage ? (
        <Buy id={id} />
      ) : (
        <p>This account has no seats yet. An admin or billing user can buy them.</p>
      )}
      <Assignments id={id} seats={seats} admin={can.manageMembers(role)} onChanged={load.reload} />
    </>
  );
}

function Subscription({ s }: { s: Schemas['SubscriptionView'] }) {
  return (
    <section class="card" aria-labelledby="sub-h">
      <h2 id="sub-h">Your plan</h2>
      <dl class="pairs">
        <dt>Seats</dt>
        <dd data-testid="seat-count">{s.seats}</dd>
        <dt>Billed</dt>
        <dd>{s.interval === 'annual' ? 'Yearly' : 'Monthly'}</dd>
        <dt>Status</dt>
        <dd>{s.status}</dd>
        <dt>Current period</dt>
        <dd>{period(s.current_period)}</dd>
        {s.unit_amount && (
          <>
            <dt>Price per seat</dt>
            <dd>{money(s.unit_amount)}</dd>
          </>
        )}
        {s.next_renewal_amount && s.next_renewal_at && (
          <>
            <dt>Next renewal</dt>
            <dd>
              {money(s.next_renewal_amount)} on {date(s.next_renewal_at)}
            </dd>
          </>
        )}
      </dl>
      {s.cancel_at_period_end && <Alert kind="info">This plan ends at the end of the current period.</Alert>}
    </section>
  );
}

function Buy({ id }: { id: string }) {
  const [interval, setInterval] = useState<Schemas['PlanInterval']>('monthly');
  const [qty, setQty] = useState('5');
  const [qtyError, setQtyError] = useState<string>();
  const buy = useAction(async () => {
    const q = parseQuantity(qty);
    if (!q.ok) {
      setQtyError(q.message);
      return;
    }
    setQtyError(undefined);
    const r = await call(api.POST('/v1/accounts/{account_id}/checkout/seats', { ...path(id), body: { interval, quantity: q.value } }));
    goTo(r.url);
  });
  return (
    <section class="card" aria-labelledby="buy-h">
      <h2 id="buy-h">Buy seats</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void buy.run();
        }}
      >
        <Select label="Billing" value={interval} onValue={setInterval} options={[['monthly', 'Monthly'], ['annual', 'Yearly']]} />
        <Field label="Number of seats" inputMode="numeric" required value={qty} onValue={setQty} error={qtyError ?? buy.error?.field('quantity')} />
        {buy.error && !buy.error.field('quantity') && <Failure error={buy.error} />}
        <Button type="submit" pending={buy.pending}>
          Buy seats
        </Button>
        <p class="muted">You pay by card on the payment processor's secure page.</p>
      </form>
    </section>
  );
}

function AddSeats({ id, s, onDone }: { id: string; s: Schemas['SubscriptionView']; onDone: () => Promise<void> }) {
  const [total, setTotal] = useState(String(s.seats + 1));
  const [qtyError, setQtyError] = useState<string>();
  const [preview, setPreview] = useState<Schemas['SeatPreviewView']>();
  const [done, setDone] = useState<string>();
  const ask = useAction(async () => {
    const q = parseQuantity(total);
    if (!q.ok) {
      setQtyError(q.message);
      return;
    }
    setQtyError(undefined);
    setDone(undefined);
    setPreview(await call(api.POST('/v1/accounts/{account_id}/subscription/seats/preview', { ...path(id), body: { quantity: q.value } })));
  });
  const confirm = useAction(async (p: Schemas['SeatPreviewView']) => {
    await call(api.PUT('/v1/accounts/{account_id}/subscription/seats', { ...path(id), body: { quantity: p.quantity, proration_date: p.proration_date } }));
    setPreview(undefined);
    setDone(`Changing to ${p.quantity} seats…`);
    const ok = await poll(async () => (await getSubscription(id))?.seats === p.quantity, 1000, 60000);
    await onDone();
    setDone(ok ? `You now have ${p.quantity} seats.` : 'The change was sent; it shows here once the payment processor confirms it.');
  });
  return (
    <section class="card" aria-labelledby="add-h">
      <h2 id="add-h">Add seats</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void ask.run();
        }}
      >
        <Field
          label="New total number of seats"
          inputMode="numeric"
          required
          value={total}
          onValue={(v) => {
            setTotal(v);
            setPreview(undefined);
          }}
          error={qtyError ?? ask.error?.field('quantity')}
          hint={`You have ${s.seats} now. Enter the total you want, not how many to add.`}
        />
        {ask.error && !ask.error.field('quantity') && <Failure error={ask.error} />}
        <Button type="submit" kind={preview ? 'secondary' : 'primary'} pending={ask.pending}>
          Preview the change
        </Button>
      </form>
      {preview && (
        <div class="preview" aria-live="polite">
          <h3>
            {preview.current_quantity} → {preview.quantity} seats
          </h3>
          <dl class="pairs">
            <dt>Charged now</dt>
            <dd class="strong" data-testid="amount-now">
              {money(preview.amount_now)}
            </dd>
            <dt>For</dt>
            <dd>the rest of this period, prorated from {dateTime(preview.proration_date)}</dd>
            {preview.new_renewal_amount && (
              <>
                <dt>Then at each renewal</dt>
                <dd data-testid="new-renewal">
                  {money(preview.new_renewal_amount)} from {date(preview.next_renewal_at)}
                </dd>
              </>
            )}
          </dl>
          {preview.lines.length > 0 && (
            <ul class="plain">
              {preview.lines.map((l, i) => (
                <li key={i}>
                  {l.description}: {money(l.amount)} <span class="muted">({period(l.service_period)})</span>
                </li>
              ))}
            </ul>
          )}
          <Failure error={confirm.error} />
          <Button pending={confirm.pending} onClick={() => void confirm.run(preview)}>
            Confirm and pay {money(preview.amount_now)}
          </Button>
        </div>
      )}
      {done && <Alert kind="success">{done}</Alert>}
    </section>
  );
}

/** Accounts billed by invoice change seats through sales: the API says whom to contact. */
function ContractSeats({ id, manage }: { id: string; manage: boolean }) {
  const [contact, setContact] = useState<ApiFailure>();
  const ask = useAction(async () => {
    try {
      await call(api.POST('/v1/accounts/{account_id}/subscription/seats/preview', { ...path(id), body: { quantity: 1 } }));
    } catch (e) {
      if (e instanceof ApiFailure && e.code === 'contact_sales') {
        setContact(e);
        return;
      }
      throw e;
    }
  });
  return (
    <section class="card" aria-labelledby="contract-h">
      <h2 id="contract-h">Seats on your contract</h2>
      <p>This account is billed by invoice under a contract. Seats are part of the contract.</p>
      {manage && (
        <Button pending={ask.pending} onClick={() => void ask.run()}>
          Add Seats
        </Button>
      )}
      <Failure error={ask.error} />
      {contact && (
        <Alert kind="info">
          To change the seats on a contract, contact sales
          {contact.contact ? (
            <>
              {' '}
              at <a href={`mailto:${contact.contact}`}>{contact.contact}</a>
            </>
          ) : null}
          .
        </Alert>
      )}
    </section>
  );
}

function ReceiptsLink({ id }: { id: string }) {
  const open = useAction(async () => goTo(await openProcessorPortal(id)));
  return (
    <p>
      <Button kind="secondary" pending={open.pending} onClick={() => void open.run()}>
        Receipts and invoice PDFs
      </Button>
      <Failure error={open.error} />
    </p>
  );
}

const SEAT_STATUS: Record<Schemas['SeatStatus'], string> = {
  unassigned: 'Free',
  assigned: 'Assigned',
  pending_removal: 'Being removed',
  suspended: 'Suspended',
};

function Assignments({ id, seats, admin, onChanged }: { id: string; seats: Schemas['SeatsView']; admin: boolean; onChanged: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const free = seats.seats.find((s) => s.status === 'unassigned');
  const assign = useAction(async () => {
    if (!free) return;
    await call(api.POST('/v1/accounts/{account_id}/seats/{seat_id}/assign', { params: { path: { account_id: id, seat_id: free.id } }, body: { email } }));
    setEmail('');
    await onChanged();
  });
  const unassign = useAction(async (seat: string) => {
    await call(api.POST('/v1/accounts/{account_id}/seats/{seat_id}/unassign', { params: { path: { account_id: id, seat_id: seat } } }));
    await onChanged();
  });
  if (seats.seats.length === 0) return null;
  return (
    <section class="card" aria-labelledby="assign-h">
      <h2 id="assign-h">Who has a seat</h2>
      <p>
        {seats.active} in use: {seats.seats.filter((x) => x.status === 'assigned').length} assigned, {seats.unassigned} free
        {seats.pending_removal > 0 ? `, ${seats.pending_removal} being removed` : ''}
        {seats.suspended > 0 ? `, ${seats.suspended} suspended` : ''}.
      </p>
      <ul class="cards">
        {seats.seats
          .filter((s) => s.status !== 'unassigned')
          .map((s) => (
            <li key={s.id} class="row">
              <span>
                {s.assignee ?? 'Nobody'} <span class="tag">{SEAT_STATUS[s.status]}</span>
              </span>
              {admin && s.assignee && (
                <Button kind="secondary" pending={unassign.pending} onClick={() => void unassign.run(s.id)} aria-label={`Unassign ${s.assignee}`}>
                  Unassign
                </Button>
              )}
            </li>
          ))}
      </ul>
      <Failure error={unassign.error} />
      {admin &&
        (free ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void assign.run();
            }}
          >
            <Field label="Give a free seat to (e-mail)" type="email" required value={email} onValue={setEmail} error={assign.error?.field('email')} />
            {assign.error && !assign.error.field('email') && <Failure error={assign.error} />}
            <Button type="submit" pending={assign.pending}>
              Assign seat
            </Button>
          </form>
        ) : (
          <p class="muted">Every seat is taken. Add seats to give one to someone else.</p>
        ))}
    </section>
  );
}
