/** The back office: the seller's staff sign in to their own pool and do their billing work —
 * finding an account (its bills, checks, credit notes, aging, portal users, reminders), recording
 * a mailed check, issuing a credit note (above the approval limit: asking for one), the approvals
 * queue where a second person decides, bill runs (reviewed four eyes), receivables, the catalog
 * and cohorts, the reminder schedule and parked events. What each may do is their roles'
 * permissions, which the API checks; the pages only leave out what the roles do not allow. */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation, useRoute } from 'preact-iso';
import { call, failure } from '../api/client';
import { doSignIn, authMessage } from '../auth';
import type { PortalConfig } from '../config';
import { date, dateTime, invoiceStatus, isPositive, money } from '../format';
import { Alert, Button, Failure, Field, Loading, PageTitle, Select, Show, saveBlob, sentence, useAction, useLoad } from '../ui';
import { type StaffSchemas, staffApi } from './api';
import { Catalog, ParkedEvents, SellerAudit, Settings } from './admin';
import { BillRuns } from './billruns';
import { Lockbox } from './lockbox';
import { Form, type Me, accountPath, can, useReason, words } from './common';

export function StaffApp({ config }: { config: PortalConfig }) {
  const me = useLoad(async () => {
    const r = await staffApi.GET('/v1/staff/me');
    if (r.response.status === 401) return null;
    return call(Promise.resolve(r));
  }, []);
  if (me.data === undefined && !me.error) return <Loading />;
  return (
    <LocationProvider>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="top-row">
          <a class="brand" href="/staff">
            {config.sellerName} <span class="muted">back office</span>
          </a>
          {me.data && <StaffBadge me={me.data} />}
        </div>
        {me.data && <StaffNav />}
      </header>
      <main id="main">
        {me.error ? (
          <Failure error={me.error} />
        ) : me.data === null ? (
          <SignIn onDone={() => void me.reload()} />
        ) : (
          me.data && (
            <Router>
              <Route path="/staff" component={() => <Home me={me.data!} />} />
              <Route path="/staff/accounts/:id" component={() => <AccountPage me={me.data!} />} />
              <Route path="/staff/approvals" component={() => <Approvals me={me.data!} />} />
              <Route path="/staff/receivables" component={Receivables} />
              <Route path="/staff/lockbox" component={() => <Lockbox me={me.data!} />} />
              <Route path="/staff/bill-runs" component={() => <BillRuns me={me.data!} />} />
              <Route path="/staff/catalog" component={() => <Catalog me={me.data!} />} />
              <Route path="/staff/settings" component={() => <Settings me={me.data!} />} />
              <Route path="/staff/parked-events" component={() => <ParkedEvents me={me.data!} />} />
              <Route path="/staff/audit" component={SellerAudit} />
              <Route default component={() => <PageTitle>Not found</PageTitle>} />
            </Router>
          )
        )}
      </main>
    </LocationProvider>
  );
}

function StaffNav() {
  const { path } = useLocation();
  const current = (href: string) => (href === '/staff' ? path === href || path.startsWith('/staff/accounts') : path.startsWith(href));
  return (
    <nav aria-label="Back office">
      <ul>
        {[
          ['/staff', 'Accounts'],
          ['/staff/approvals', 'Approvals'],
          ['/staff/bill-runs', 'Bill runs'],
          ['/staff/receivables', 'Receivables'],
          ['/staff/lockbox', 'Lockbox'],
          ['/staff/catalog', 'Catalog'],
          ['/staff/settings', 'Reminders'],
          ['/staff/parked-events', 'Parked events'],
          ['/staff/audit', 'Audit'],
        ].map(([href, label]) => (
          <li key={href}>
            <a href={href} aria-current={current(href!) ? 'page' : undefined}>
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function StaffBadge({ me }: { me: Me }) {
  const signOut = useAction(async () => {
    const { signOut } = await import('@aws-amplify/auth');
    await signOut();
    window.location.assign('/staff');
  });
  return (
    <div class="who">
      <span class="user">
        {me.email} <span class="role-badge">{me.roles.map((r) => sentence(r)).join(', ') || 'No role'}</span>
      </span>
      <button type="button" class="link" onClick={() => void signOut.run()}>
        Sign out
      </button>
    </div>
  );
}

function SignIn({ onDone }: { onDone: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);
  return (
    <>
      <PageTitle>Staff sign-in</PageTitle>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setPending(true);
          setError(undefined);
          doSignIn(email, password)
            .then((r) => (r.done ? onDone() : setError('Set a new password with your administrator first.')))
            .catch((err) => setError(authMessage(err)))
            .finally(() => setPending(false));
        }}
      >
        <Field label="E-mail" type="email" autoComplete="username" value={email} onValue={setEmail} required />
        <Field label="Password" type="password" autoComplete="current-password" value={password} onValue={setPassword} required />
        {error && <Alert>{error}</Alert>}
        <Button type="submit" pending={pending}>
          Sign in
        </Button>
      </form>
    </>
  );
}

const MATCHED: Record<string, string> = { id: 'account id', name: 'name', invoice: 'invoice number', email: 'e-mail' };

function Home({ me }: { me: Me }) {
  const [q, setQ] = useState('');
  const [asked, setAsked] = useState('');
  const pending = useLoad(() => call(staffApi.GET('/v1/staff/approvals', {})), []);
  const found = useLoad(
    async () => (asked ? call(staffApi.GET('/v1/staff/accounts', { params: { query: { q: asked } } })) : null),
    [asked],
  );
  return (
    <>
      <PageTitle>Accounts</PageTitle>
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked(q.trim());
        }}
      >
        <Field label="Find an account" value={q} onValue={setQ} hint="Its id (acct_…), an invoice number, an e-mail address, or the start of its name" required />
        <Button type="submit">Search</Button>
      </form>
      {found.error && <Failure error={found.error} />}
      {found.data && (
        <section aria-labelledby="found">
          <h2 id="found">{found.data.accounts.length === 0 ? `Nothing found for “${asked}”` : `Found for “${asked}”`}</h2>
          <ul class="plain" data-testid="search-results">
            {found.data.accounts.map((a) => (
              <li key={a.account_id}>
                <a href={accountPath(a.account_id)}>{a.name || a.account_id}</a>{' '}
                <span class="muted">
                  {a.account_id}, by {MATCHED[a.matched] ?? a.matched}
                  {a.invoice_number ? ` ${a.invoice_number}` : ''}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {pending.data && (
        <p data-testid="pending-count">
          {pending.data.length === 0
            ? 'Nothing is waiting for approval.'
            : `${pending.data.length} ${pending.data.length === 1 ? 'request is' : 'requests are'} waiting for approval. `}
          {pending.data.length > 0 && <a href="/staff/approvals">{can(me, 'credit_note:approve') ? 'Decide them' : 'See them'}</a>}
        </p>
      )}
    </>
  );
}

type Account = StaffSchemas['AccountView'];

function AccountPage({ me }: { me: Me }) {
  const { params } = useRoute();
  const id = params['id']!;
  const account = useLoad(
    () => call(staffApi.GET('/v1/staff/accounts/{account_id}', { params: { path: { account_id: id } } })),
    [id],
  );
  const audit = useLoad(
    () => call(staffApi.GET('/v1/staff/accounts/{account_id}/audit', { params: { path: { account_id: id }, query: { limit: 20 } } })),
    [id],
  );
  const changed = () => {
    void account.reload();
    void audit.reload();
  };
  return (
    <Show load={account}>
      {(a) => (
        <>
          <PageTitle>{a.name}</PageTitle>
          <dl class="pairs">
            <dt>Account</dt>
            <dd>{a.account_id}</dd>
            <dt>Contact</dt>
            <dd>
              {a.contact.name}, <a href={`mailto:${a.contact.email}`}>{a.contact.email}</a>
              {a.contact.phone ? `, ${a.contact.phone}` : ''}
            </dd>
            <dt>Address</dt>
            <dd>{[a.address.line1, a.address.line2, a.address.city, a.address.region, a.address.postal_code, a.address.country].filter(Boolean).join(', ')}</dd>
            <dt>Billed by</dt>
            <dd>{a.billing_mode === 'invoice' ? 'Invoice (contract)' : 'Card'}</dd>
            <dt>Balance due</dt>
            <dd class="strong" data-testid="staff-balance">
              {money(a.balance_due)}
            </dd>
            {a.contract && (
              <>
                <dt>Next bill</dt>
                <dd>{date(a.contract.next_bill_date)}</dd>
                <dt>Account credit</dt>
                <dd>{money(a.contract.credit)}</dd>
                <dt>Reminders</dt>
                <dd data-testid="reminders-state">{a.contract.reminders_paused ? 'Paused' : 'Sent on the schedule'}</dd>
              </>
            )}
          </dl>
          <Aging account={a} />
          {a.contract && <Contract contract={a.contract} />}
          <Bills account={a} />
          <Payments account={a} />
          {can(me, 'payment:record') && <RecordCheck account={a} onDone={changed} />}
          {can(me, 'payment:record') && <ReturnCheck account={a} onDone={changed} />}
          {can(me, 'credit_note:create') && <CreditNote account={a} onDone={changed} />}
          {can(me, 'credit_note:create') && <WriteOff account={a} onDone={changed} />}
          <section aria-labelledby="notes">
            <h2 id="notes">Credit notes</h2>
            {a.credit_notes.length === 0 ? (
              <p>None.</p>
            ) : (
              <ul class="plain">
                {a.credit_notes.map((n) => (
                  <li key={n.id}>
                    {n.number}: {money(n.amount)} on {n.invoice_id}, {n.reason} ({n.created_by})
                  </li>
                ))}
              </ul>
            )}
          </section>
          <Members me={me} account={a} onDone={changed} />
          {a.contract && can(me, 'reminders:pause') && <Reminders account={a} paused={a.contract.reminders_paused} onDone={changed} />}
          <section aria-labelledby="audit">
            <h2 id="audit">Audit trail</h2>
            <Show load={audit}>
              {(page) => (
                <ul class="plain" data-testid="staff-audit">
                  {page.entries.map((e) => (
                    <li key={e.id}>
                      {dateTime(e.at)}: {e.actor.email ?? e.actor.user_id}, {words(e.action)}
                      {e.reason && ` (${e.reason.code.replace(/_/g, ' ')}${e.reason.text ? `: ${e.reason.text}` : ''})`}
                    </li>
                  ))}
                </ul>
              )}
            </Show>
          </section>
        </>
      )}
    </Show>
  );
}

function Bills({ account }: { account: Account }) {
  return (
    <section aria-labelledby="bills">
      <h2 id="bills">Bills</h2>
      {account.invoices.length === 0 ? (
        <p>No bills yet.</p>
      ) : (
        <table class="stack">
          <caption class="sr-only">Bills, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Bill</th>
              <th scope="col">Status</th>
              <th scope="col">Due</th>
              <th scope="col" class="num">
                Total
              </th>
              <th scope="col" class="num">
                Still due
              </th>
            </tr>
          </thead>
          <tbody>
            {account.invoices.map((i) => (
              <tr key={i.id}>
                <td data-label="Bill">{i.number ?? i.id}</td>
                <td data-label="Status">{invoiceStatus(i.status)}</td>
                <td data-label="Due">{date(i.due_date) || '—'}</td>
                <td data-label="Total" class="num">
                  {money(i.total)}
                </td>
                <td data-label="Still due" class="num">
                  {money(i.amount_remaining)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The open bills, oldest due first (what a check usually pays first). */
const openBills = (a: Account): [string, string][] =>
  a.invoices
    .filter((i) => i.status === 'open')
    .sort((x, y) => (x.due_date ?? '').localeCompare(y.due_date ?? ''))
    .map((i) => [i.id, `${i.number ?? i.id} (${money(i.amount_remaining)} still due)`]);


/** A mailed check: over one bill or several (oldest due first, each up to what it owes; beyond
 * the last, account credit). */
function RecordCheck({ account, onDone }: { account: Account; onDone: () => void }) {
  const bills = openBills(account);
  const [picked, setPicked] = useState<string[]>(bills.map(([id]) => id));
  const [amount, setAmount] = useState('');
  const [check, setCheck] = useState('');
  const [received, setReceived] = useState(new Date().toISOString().slice(0, 10));
  const why = useReason('payment_received');
  const [done, setDone] = useState<string>();
  const [none, setNone] = useState(false);
  const record = useAction(async () => {
    const r = await call(
      staffApi.POST('/v1/staff/accounts/{account_id}/checks', {
        params: { path: { account_id: account.account_id }, header: why.header() },
        body: {
          amount: amount.trim(),
          check_number: check.trim(),
          received_on: received,
          invoices: bills.map(([id]) => id).filter((id) => picked.includes(id)),
        },
      }),
    );
    const spread = r.allocations
      .filter((a) => a.now)
      .map((a) => `${money(a.amount)} on ${a.number ?? a.invoice_id}`)
      .join(', ');
    setDone(
      r.status === 'already_recorded'
        ? `Check ${check} was recorded before; nothing changed.`
        : `Check ${check} recorded: ${spread}; balance due ${money(r.balance_due)}.`,
    );
    setAmount('');
    setCheck('');
    onDone();
  });
  if (bills.length === 0) return null;
  return (
    <Form title="Record a check" id="record-check">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          setNone(picked.length === 0);
          if (picked.length > 0) void record.run();
        }}
      >
        <fieldset>
          <legend>Bills it pays, oldest due first</legend>
          {bills.map(([id, label]) => (
            <label class="check" key={id}>
              <input
                type="checkbox"
                checked={picked.includes(id)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setPicked(on ? [...picked, id] : picked.filter((p) => p !== id));
                }}
              />
              <span>{label}</span>
            </label>
          ))}
        </fieldset>
        {none && <Alert>Pick at least one bill the check pays.</Alert>}
        <Field label="Amount" inputMode="numeric" value={amount} onValue={setAmount} hint="The whole check" error={record.error?.field('amount')} required />
        <Field label="Check number" value={check} onValue={setCheck} error={record.error?.field('check_number')} required />
        <Field label="Received on" type="date" value={received} onValue={setReceived} required />
        {why.fields}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={record.error} />
        <Button type="submit" pending={record.pending}>
          Record the check
        </Button>
      </form>
    </Form>
  );
}

function CreditNote({ account, onDone }: { account: Account; onDone: () => void }) {
  const bills = openBills(account);
  const [invoice, setInvoice] = useState(bills[0]?.[0] ?? '');
  const [amount, setAmount] = useState('');
  const [printed, setPrinted] = useState('');
  const why = useReason('service_credit');
  const [done, setDone] = useState<string>();
  const issue = useAction(async () => {
    const r = await call(
      staffApi.POST('/v1/staff/accounts/{account_id}/invoices/{invoice_id}/credit-notes', {
        params: { path: { account_id: account.account_id, invoice_id: invoice }, header: why.header() },
        body: { amount: amount.trim(), reason: printed.trim() },
      }),
    );
    setDone(
      r.status === 'issued'
        ? `Credit note ${r.credit_note.number} issued for ${money(r.credit_note.amount)}.`
        : `Above the approval limit: ${money(r.approval.amount)} waits for a second person's approval.`,
    );
    setAmount('');
    onDone();
  });
  if (bills.length === 0) return null;
  return (
    <Form title="Credit note" id="credit-note">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          void issue.run();
        }}
      >
        <Select label="Bill" value={invoice} options={bills} onValue={setInvoice} />
        <Field label="Amount" inputMode="numeric" value={amount} onValue={setAmount} error={issue.error?.field('amount')} required />
        <Field label="What the credit note says" value={printed} onValue={setPrinted} error={issue.error?.field('reason')} required />
        {why.fields}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={issue.error} />
        <Button type="submit" pending={issue.pending}>
          Issue the credit note
        </Button>
      </form>
    </Form>
  );
}

function Aging({ account }: { account: Account }) {
  if (account.open_items.length === 0) return null;
  const buckets: [keyof StaffSchemas['StatementAging'], string][] = [
    ['current', 'Current'],
    ['days_1_30', '1–30 days'],
    ['days_31_60', '31–60'],
    ['days_61_90', '61–90'],
    ['over_90', 'Over 90'],
  ];
  return (
    <section aria-labelledby="aging">
      <h2 id="aging">Owed today, by days past due</h2>
      <dl class="pairs totals" data-testid="account-aging">
        {buckets.map(([k, label]) => (
          <Fragment key={k}>
            <dt>{label}</dt>
            <dd>{money(account.aging[k])}</dd>
          </Fragment>
        ))}
      </dl>
    </section>
  );
}

function Contract({ contract }: { contract: NonNullable<Account['contract']> }) {
  return (
    <details class="card">
      <summary>
        Contract: cohort {contract.cohort}, bill day {contract.bill_day}, net {contract.terms_days} days
      </summary>
      <p>Billed here from {date(contract.go_live)}.</p>
      <ul class="plain">
        {contract.items.map((i) => (
          <li key={i}>{i}</li>
        ))}
      </ul>
    </details>
  );
}

const RETURN_REASONS: [StaffSchemas['ReturnReason'], string][] = [
  ['insufficient_funds', 'Insufficient funds (NSF)'],
  ['stop_payment', 'Payment stopped'],
  ['account_closed', 'Account closed'],
  ['other', 'Other'],
];

/** A payment as a person reads it: "check 1042", or the method. */
const paymentName = (p: Account['payments'][number]) => (p.check_number ? `check ${p.check_number}` : p.reference.replace(/^check:([^:]+).*$/, 'check $1'));

function Payments({ account }: { account: Account }) {
  if (account.payments.length === 0) return null;
  const number = (id: string) => account.invoices.find((i) => i.id === id)?.number ?? id;
  return (
    <section aria-labelledby="payments">
      <h2 id="payments">Checks received</h2>
      <ul class="plain" data-testid="staff-payments">
        {account.payments.map((p) => (
          <li key={`${p.reference}:${p.invoice_id}`}>
            {date(p.received_on)}: {paymentName(p)}, {money(p.amount)} on {number(p.invoice_id)}
            {isPositive(p.to_credit) ? ` (${money(p.to_credit)} to credit)` : ''} <span class="muted">by {p.recorded_by}</span>
            {p.returned && (
              <strong class="returned">
                {' '}
                Returned {date(p.returned.returned_on)}: {RETURN_REASONS.find(([r]) => r === p.returned?.reason)?.[1]}
              </strong>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The bank returned a check: every bill it paid is owed again, the customer is told, and a fee
 * (a one-time price of the catalog) goes on the next bill when one is chosen. */
function ReturnCheck({ account, onDone }: { account: Account; onDone: () => void }) {
  const checks = new Map<string, string>();
  for (const p of account.payments) {
    if (!p.returned && p.method === 'check' && !checks.has(p.check_reference)) {
      // Its shares as the API states them (no arithmetic on amounts here).
      const shares = account.payments.filter((q) => q.check_reference === p.check_reference).map((q) => money(q.amount));
      checks.set(p.check_reference, `${paymentName(p)} of ${date(p.received_on)}, ${shares.join(' + ')}`);
    }
  }
  const options = [...checks.entries()];
  const prices = useLoad(() => call(staffApi.GET('/v1/staff/prices')), []);
  const [picked, setPicked] = useState(options[0]?.[0] ?? '');
  // The check taken back leaves the list: the choice moves to the first one left.
  const reference = checks.has(picked) ? picked : (options[0]?.[0] ?? '');
  const [returnedOn, setReturnedOn] = useState(new Date().toISOString().slice(0, 10));
  const [reason, setReason] = useState<StaffSchemas['ReturnReason']>('insufficient_funds');
  const [fee, setFee] = useState('');
  const why = useReason('payment_returned');
  const [done, setDone] = useState<string>();
  const take = useAction(async () => {
    const r = await call(
      staffApi.POST('/v1/staff/accounts/{account_id}/payments/return', {
        params: { path: { account_id: account.account_id }, header: why.header() },
        body: { reference, returned_on: returnedOn, reason, fee_price: fee || null },
      }),
    );
    const bills = r.shares.map((s) => s.number ?? s.invoice_id).join(', ');
    setDone(
      r.status === 'already_returned'
        ? 'This check was returned before; nothing changed.'
        : `${money(r.amount)} taken back: ${bills} owed again${r.fee ? `, fee ${money(r.fee)} on the next bill` : ''}; balance due ${money(r.balance_due)}. The customer is told by e-mail.`,
    );
    onDone();
  });
  if (options.length === 0) {
    // The last check was just taken back: its confirmation stays.
    return done ? (
      <Form title="Returned check" id="return-check">
        <Alert kind="success">{done}</Alert>
      </Form>
    ) : null;
  }
  const fees: [string, string][] = [
    ['', 'No fee'],
    ...(prices.data ?? [])
      .filter((p) => p.charge.type === 'one_time' && p.currency === account.balance_due.currency)
      .map((p): [string, string] => [p.id, `${p.name} (${p.id})`]),
  ];
  return (
    <Form title="Returned check" id="return-check">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          void take.run();
        }}
      >
        <Select label="Check" value={reference} options={options} onValue={setPicked} />
        <Field label="Returned on" type="date" value={returnedOn} onValue={setReturnedOn} error={take.error?.field('returned_on')} required />
        <Select label="Why the bank returned it" value={reason} options={RETURN_REASONS} onValue={(v) => setReason(v as StaffSchemas['ReturnReason'])} />
        <Select label="Fee" value={fee} options={fees} onValue={setFee} />
        {why.fields}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={take.error} />
        <Button type="submit" pending={take.pending}>
          Take the check back
        </Button>
      </form>
    </Form>
  );
}

const MEMBER_ROLES: [StaffSchemas['Role'], string][] = [
  ['viewer', 'Viewer (reads bills)'],
  ['billing', 'Billing (pays bills)'],
  ['admin', 'Admin (manages users)'],
];

/** The customer's portal users: who may sign in, and inviting or removing one for them. */
function Members({ me, account, onDone }: { me: Me; account: Account; onDone: () => void }) {
  const id = account.account_id;
  const list = useLoad(() => call(staffApi.GET('/v1/staff/accounts/{account_id}/members', { params: { path: { account_id: id } } })), [id]);
  const manage = can(me, 'member:manage');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<StaffSchemas['Role']>('viewer');
  const [done, setDone] = useState<string>();
  const why = useReason('customer_request');
  const invite = useAction(async () => {
    const r = await call(
      staffApi.POST('/v1/staff/accounts/{account_id}/members', {
        params: { path: { account_id: id }, header: why.header() },
        body: { email: email.trim(), role },
      }),
    );
    setDone(`${r.email} is invited as ${r.role}: they create a portal login with this e-mail and join the account.`);
    setEmail('');
    void list.reload();
    onDone();
  });
  const remove = useAction(async (member: StaffSchemas['MemberView']) => {
    await call(
      staffApi.DELETE('/v1/staff/accounts/{account_id}/members/{member_id}', {
        params: { path: { account_id: id, member_id: member.id }, header: why.header() },
      }),
    );
    setDone(`${member.email} removed.`);
    void list.reload();
    onDone();
  });
  return (
    <section aria-labelledby="members">
      <h2 id="members">Portal users</h2>
      <Show load={list}>
        {(members) =>
          members.length === 0 ? (
            <p>Nobody signs in to this account's portal yet.</p>
          ) : (
            <ul class="cards" data-testid="staff-members">
              {members.map((m) => (
                <li key={m.id} class="row">
                  <span>
                    {m.email} <span class="role-badge">{sentence(m.role)}</span> <span class="muted">{m.status === 'invited' ? 'invited' : 'active'}</span>
                  </span>
                  {manage && (
                    <Button kind="danger" pending={remove.pending} onClick={() => void remove.run(m)} aria-label={`Remove ${m.email}`}>
                      Remove
                    </Button>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      {manage && (
        <Form title="Add a user" id="add-member">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setDone(undefined);
              void invite.run();
            }}
          >
            <Field label="Their e-mail" type="email" value={email} onValue={setEmail} error={invite.error?.field('email')} required />
            <Select label="Role" value={role} options={MEMBER_ROLES} onValue={setRole} />
            {why.fields}
            <Failure error={invite.error ?? remove.error} />
            <Button type="submit" pending={invite.pending}>
              Invite
            </Button>
          </form>
        </Form>
      )}
      {done && <Alert kind="success">{done}</Alert>}
    </section>
  );
}

function Reminders({ account, paused, onDone }: { account: Account; paused: boolean; onDone: () => void }) {
  const why = useReason('customer_request');
  const toggle = useAction(async () => {
    await call(
      staffApi.PUT('/v1/staff/accounts/{account_id}/reminders', {
        params: { path: { account_id: account.account_id }, header: why.header() },
        body: { paused: !paused },
      }),
    );
    onDone();
  });
  return (
    <Form title={paused ? 'Resume payment reminders' : 'Pause payment reminders'} id="reminders">
      <p>{paused ? 'No payment reminders go out for this account’s bills.' : 'Reminders go out on the seller’s schedule until paused.'}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void toggle.run();
        }}
      >
        {why.fields}
        <Failure error={toggle.error} />
        <Button kind="secondary" type="submit" pending={toggle.pending}>
          {paused ? 'Resume reminders' : 'Pause reminders'}
        </Button>
      </form>
    </Form>
  );
}

function WriteOff({ account, onDone }: { account: Account; onDone: () => void }) {
  const bills = openBills(account);
  const [invoice, setInvoice] = useState(bills[0]?.[0] ?? '');
  const [printed, setPrinted] = useState('');
  const why = useReason('write_off');
  const [done, setDone] = useState<string>();
  const off = useAction(async () => {
    const r = await call(
      staffApi.POST('/v1/staff/accounts/{account_id}/invoices/{invoice_id}/write-off', {
        params: { path: { account_id: account.account_id, invoice_id: invoice }, header: why.header() },
        body: { reason: printed.trim() },
      }),
    );
    setDone(
      r.status === 'issued'
        ? `Written off: ${money(r.credit_note.amount)} (credit note ${r.credit_note.number}); the bill is uncollectible.`
        : `Above the approval limit: writing off ${money(r.approval.amount)} waits for a second person's approval.`,
    );
    onDone();
  });
  if (bills.length === 0) return null;
  return (
    <Form title="Write off" id="write-off">
      <p>What is left of the bill will not be collected: it leaves the balance and the receivables, and makes no account credit.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setDone(undefined);
          void off.run();
        }}
      >
        <Select label="Bill" value={invoice} options={bills} onValue={setInvoice} />
        <Field label="Why it will not be collected" value={printed} onValue={setPrinted} error={off.error?.field('reason')} required />
        {why.fields}
        {done && <Alert kind="success">{done}</Alert>}
        <Failure error={off.error} />
        <Button kind="danger" type="submit" pending={off.pending}>
          Write off what is left
        </Button>
      </form>
    </Form>
  );
}

function Approvals({ me }: { me: Me }) {
  const queue = useLoad(() => call(staffApi.GET('/v1/staff/approvals', {})), []);
  return (
    <>
      <PageTitle>Approvals</PageTitle>
      <p class="muted">
        Credit notes and write-offs above the approval limit
        {me.credit_note_approval_limit ? ` (${me.credit_note_approval_limit})` : ''} wait here for a second person. Nobody approves their own.
      </p>
      <Show load={queue}>
        {(items) =>
          items.length === 0 ? (
            <p>Nothing is waiting.</p>
          ) : (
            <ul class="cards" data-testid="approvals">
              {items.map((a) => (
                <ApprovalCard key={a.id} a={a} me={me} onDone={() => void queue.reload()} />
              ))}
            </ul>
          )
        }
      </Show>
    </>
  );
}

function ApprovalCard({ a, me, onDone }: { a: StaffSchemas['Approval']; me: Me; onDone: () => void }) {
  const [note, setNote] = useState('');
  const [done, setDone] = useState<string>();
  const path = { params: { path: { approval_id: a.id } } };
  const approve = useAction(async () => {
    const r = await call(staffApi.POST('/v1/staff/approvals/{approval_id}/approve', { ...path, body: note.trim() ? { note: note.trim() } : {} }));
    setDone(a.kind === 'write_off' ? `Approved: ${money(r.credit_note.amount)} written off.` : `Approved: credit note ${r.credit_note.number} issued.`);
    onDone();
  });
  const reject = useAction(async () => {
    await call(staffApi.POST('/v1/staff/approvals/{approval_id}/reject', { ...path, body: { note: note.trim() } }));
    setDone('Rejected.');
    onDone();
  });
  const own = a.requested_by_email === me.email;
  return (
    <li class="card">
      <h2>
        {a.kind === 'write_off' ? 'Write-off' : 'Credit note'} of {money(a.amount)} on {a.invoice_number ?? a.invoice_id}
      </h2>
      <p>
        <a href={accountPath(a.account_id)}>{a.account_id}</a>: “{a.description}”
      </p>
      <p class="muted">
        Asked by {a.requested_by_email} on {dateTime(a.requested_at)}, {words(a.reason.code)}
        {a.reason.text ? `: ${a.reason.text}` : ''}
      </p>
      {can(me, 'credit_note:approve') && !own && (
        <>
          <Field label="Note (needed to reject)" value={note} onValue={setNote} maxLength={500} />
          <p class="actions">
            <Button pending={approve.pending} onClick={() => void approve.run()}>
              Approve
            </Button>
            <Button kind="danger" pending={reject.pending} onClick={() => void reject.run()}>
              Reject
            </Button>
          </p>
        </>
      )}
      {own && <p>You asked for this one: another approver decides it.</p>}
      {done && <Alert kind="success">{done}</Alert>}
      <Failure error={approve.error ?? reject.error} />
    </li>
  );
}

const AGE: [keyof StaffSchemas['BucketAmounts'], string][] = [
  ['current', 'Current'],
  ['days_1_30', '1–30'],
  ['days_31_60', '31–60'],
  ['days_61_90', '61–90'],
  ['over_90', 'Over 90'],
  ['total', 'Total'],
];

/** Downloads the report as CSV (the same figures; cells a spreadsheet would run are escaped). */
async function downloadCsv(asOf: string): Promise<void> {
  const r = await staffApi.GET('/v1/staff/receivables', {
    params: { query: asOf ? { as_of: asOf } : {} },
    headers: { accept: 'text/csv' },
    parseAs: 'blob',
  });
  if (!r.response.ok || !r.data) throw failure(r.response.status, r.error);
  saveBlob(r.data as Blob, `receivables-${asOf || new Date().toISOString().slice(0, 10)}.csv`);
}

/** What customers owe, aged as of a day, per account and currency, with the CSV. */
function Receivables() {
  const [asOf, setAsOf] = useState('');
  const [asked, setAsked] = useState('');
  const report = useLoad(
    () => call(staffApi.GET('/v1/staff/receivables', { params: { query: asked ? { as_of: asked } : {} } })),
    [asked],
  );
  const csv = useAction(async () => downloadCsv(asked));
  return (
    <>
      <PageTitle>Receivables</PageTitle>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked(asOf);
        }}
      >
        <Field label="Aged as of" type="date" value={asOf} onValue={setAsOf} />
        <Button kind="secondary" type="submit">
          Show
        </Button>
        <Button kind="secondary" type="button" pending={csv.pending} onClick={() => void csv.run()}>
          Download CSV
        </Button>
      </form>
      <Failure error={csv.error} />
      <Show load={report}>
        {(r) => (
          <>
            <p>Days past due as of {date(r.as_of)}.</p>
            {r.totals.map((t) => (
              <section key={t.currency} aria-labelledby={`total-${t.currency}`}>
                <h2 id={`total-${t.currency}`}>Owed in {t.currency}</h2>
                <dl class="pairs totals" data-testid={`totals-${t.currency}`}>
                  {AGE.map(([k, label]) => (
                    <Fragment key={k}>
                      <dt>{label}</dt>
                      <dd class={k === 'total' ? 'strong' : undefined}>{money(t[k] as StaffSchemas['Money'])}</dd>
                    </Fragment>
                  ))}
                </dl>
              </section>
            ))}
            {r.accounts.length === 0 ? (
              <p>Nothing is owed.</p>
            ) : (
              <table class="stack" data-testid="aging">
                <caption class="sr-only">Accounts, most past due first</caption>
                <thead>
                  <tr>
                    <th scope="col">Account</th>
                    <th scope="col">Oldest due</th>
                    {AGE.map(([k, label]) => (
                      <th scope="col" class="num" key={k}>
                        {label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {r.accounts.map((a) => (
                    <tr key={`${a.account_id}:${a.currency}`}>
                      <td data-label="Account">
                        <a href={accountPath(a.account_id)}>{a.name || a.account_id}</a>
                      </td>
                      <td data-label="Oldest due">
                        {date(a.oldest_due_date)} ({a.days_past_due > 0 ? `${a.days_past_due} days past due` : 'not yet due'})
                      </td>
                      {AGE.map(([k, label]) => (
                        <td data-label={label} class="num" key={k}>
                          {money(a[k] as StaffSchemas['Money'])}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </Show>
    </>
  );
}
