import { useRoute } from 'preact-iso';
import type { Schemas } from '../api/client';
import { date, dateTime, invoiceStatus, isPositive, money, period } from '../format';
import { can, roleOn, useSession } from '../session';
import { Failure, Loading, PageTitle, sentence, useLoad } from '../ui';
import { getAccount, getContractOutlook, getSeats, getStatement, getSubscription } from './data';

export function AddressLines({ a }: { a: Schemas['Address'] }) {
  return (
    <>
      {a.line1}
      <br />
      {a.line2 && (
        <>
          {a.line2}
          <br />
        </>
      )}
      {[a.city, a.region, a.postal_code].filter(Boolean).join(', ')}
      <br />
      {a.country}
    </>
  );
}

/** This period's usage and the next bill of an account billed by contract, read only for those
 * (a card account has neither); nothing while loading, or for an account with no contract yet. */
function ContractOutlook({ id }: { id: string }) {
  const load = useLoad(() => getContractOutlook(id), [id]);
  if (load.error) return <Failure error={load.error} />;
  const outlook = load.data;
  if (!outlook) return null;
  if ('pending' in outlook)
    return (
      <section class="card" aria-labelledby="outlook">
        <h2 id="outlook">This period</h2>
        <p data-testid="contract-pending">{sentence(outlook.pending)}.</p>
      </section>
    );
  return (
    <section class="card" aria-labelledby="outlook">
      <h2 id="outlook">This period</h2>
      <p>
        Usage {period(outlook.usage.period)}, as of {dateTime(outlook.usage.as_of)}:
      </p>
      <ul data-testid="usage">
        {outlook.usage.items.map((u) => (
          <li key={u.item_id}>
            {u.description}: {u.quantity.toLocaleString()}
            {u.unit ? ` ${u.unit}` : ''}
            {u.included > 0 && ` (${u.included.toLocaleString()} included, ${u.beyond_included.toLocaleString()} beyond)`}
            , about {money(u.estimated_amount)}
          </li>
        ))}
      </ul>
      <p data-testid="upcoming">
        Next bill on {date(outlook.upcoming.bill_date)}: about {money(outlook.upcoming.invoice.total)}.
      </p>
      <p class="muted">{outlook.upcoming.note}</p>
    </section>
  );
}

export function Overview() {
  const { params } = useRoute();
  const id = params['id']!;
  const { me, config } = useSession();
  const role = roleOn(me, id);
  const load = useLoad(
    () => Promise.all([getAccount(id), getStatement(id), getSubscription(id), getSeats(id)]),
    [id],
  );
  if (load.error) return <Failure error={load.error} />;
  if (!load.data) return <Loading />;
  const [account, statement, subscription, seats] = load.data;
  const pastDue = statement.past_due;
  const owed = isPositive(statement.balance_due);
  const latest = statement.latest_invoice;
  const base = `/accounts/${encodeURIComponent(id)}`;
  return (
    <>
      <PageTitle>{account.name}</PageTitle>
      <div class="grid">
        <section class="card" aria-labelledby="bal">
          <h2 id="bal">Balance due</h2>
          <p class="big" data-testid="balance-due">
            {money(statement.balance_due)}
          </p>
          {pastDue && (
            <p class="alert alert-error" role="status" data-testid="past-due">
              {money(pastDue.amount)} is past due: {pastDue.invoices === 1 ? 'a bill' : `${pastDue.invoices} bills`} due{' '}
              {date(pastDue.oldest_due_date)}, {pastDue.days_past_due} {pastDue.days_past_due === 1 ? 'day' : 'days'} ago.
            </p>
          )}
          {owed ? (
            <>
              <p>
                {statement.open_invoices.length} open {statement.open_invoices.length === 1 ? 'bill' : 'bills'}.
              </p>
              {can.manageBilling(role) ? (
                <a class="btn btn-primary" href={`${base}/billing`}>
                  Pay now
                </a>
              ) : (
                <p class="muted">An admin or billing user of this account can pay it.</p>
              )}
            </>
          ) : (
            <p>Nothing is owed. Thank you.</p>
          )}
        </section>
        <section class="card" aria-labelledby="latest">
          <h2 id="latest">Latest bill</h2>
          {latest ? (
            <dl class="pairs">
              <dt>Number</dt>
              <dd>
                <a href={`${base}/bills/${encodeURIComponent(latest.id)}`}>{latest.number ?? latest.id}</a>
              </dd>
              <dt>Date</dt>
              <dd>{date(latest.created)}</dd>
              <dt>Amount</dt>
              <dd>{money(latest.total)}</dd>
              <dt>Status</dt>
              <dd>
                <span class={`status status-${latest.status}`}>{invoiceStatus(latest.status)}</span>
              </dd>
            </dl>
          ) : (
            <p>No bills yet.</p>
          )}
          <p>
            <a href={`${base}/bills`}>All bills</a>
          </p>
        </section>
        <section class="card" aria-labelledby="seats">
          <h2 id="seats">Seats</h2>
          {subscription ? (
            <p>
              {subscription.seats} {subscription.interval} seats, {subscription.status}.{' '}
              {seats.seats.filter((x) => x.status === 'assigned').length} assigned, {seats.unassigned} free.
              {subscription.next_renewal_amount && subscription.next_renewal_at && (
                <>
                  {' '}
                  Renews {date(subscription.next_renewal_at)} at {money(subscription.next_renewal_amount)}.
                </>
              )}
            </p>
          ) : account.billing_mode === 'invoice' ? (
            <p>Seats are part of your contract.</p>
          ) : (
            <p>No seats bought yet.</p>
          )}
          <p>
            <a href={`${base}/seats`}>Manage seats</a>
          </p>
        </section>
        {account.billing_mode === 'invoice' && <ContractOutlook id={id} />}
        {account.remit_to && (
          <section class="card" aria-labelledby="remit">
            <h2 id="remit">Paying by check</h2>
            <p>Make checks payable to {account.remit_to.name} and mail them to:</p>
            <address>
              <AddressLines a={account.remit_to.address} />
            </address>
            <p class="muted">Write your account number {account.id} on the check.</p>
          </section>
        )}
        <section class="card" aria-labelledby="help">
          <h2 id="help">Help</h2>
          {config.supportEmail ? (
            <p>
              Questions about a bill or this portal? Write to <a href={`mailto:${config.supportEmail}`}>{config.supportEmail}</a>.
            </p>
          ) : (
            <p>Contact your account manager.</p>
          )}
        </section>
      </div>
    </>
  );
}
