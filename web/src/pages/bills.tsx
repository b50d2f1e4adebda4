import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, call, type Schemas } from '../api/client';
import { chargeKind, date, invoiceStatus, isPositive, isZero, money, period } from '../format';
import { can, roleOn, useSession } from '../session';
import { Button, Failure, Loading, PageTitle, Select, Show, goTo, useAction, useCursorPages, useLoad } from '../ui';
import { openProcessorPortal, pdfLink } from './data';

type Status = Schemas['InvoiceStatus'] | '';
const PAGE = 20;

export function Bills() {
  const { params } = useRoute();
  const id = params['id']!;
  const { me } = useSession();
  const role = roleOn(me, id);
  const [status, setStatus] = useState<Status>('');
  const { cursor, reset, pager } = useCursorPages();
  const load = useLoad(
    () =>
      call(
        api.GET('/v1/accounts/{account_id}/invoices', {
          params: { path: { account_id: id }, query: { limit: String(PAGE), ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [id, status, cursor],
  );
  const portal = useAction(async () => goTo(await openProcessorPortal(id)));
  const base = `/accounts/${encodeURIComponent(id)}`;
  return (
    <>
      <PageTitle>Bills</PageTitle>
      <div class="toolbar">
        <Select<Status>
          label="Show"
          value={status}
          onValue={(v) => {
            setStatus(v);
            reset();
          }}
          options={[
            ['', 'All bills'],
            ['open', 'Open'],
            ['paid', 'Paid'],
            ['void', 'Void'],
            ['uncollectible', 'Uncollectible'],
          ]}
        />
        {can.manageBilling(role) && (
          <Button kind="secondary" pending={portal.pending} onClick={() => void portal.run()}>
            Receipts and invoice PDFs
          </Button>
        )}
      </div>
      <Failure error={portal.error} />
      <Show load={load}>
        {(page) =>
          page.invoices.length === 0 ? (
            <p>No bills{status ? ` with status ${invoiceStatus(status as Schemas['InvoiceStatus']).toLowerCase()}` : ''}.</p>
          ) : (
            <>
              <table class="stack">
                <caption class="sr-only">Bills, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Bill</th>
                    <th scope="col">Date</th>
                    <th scope="col">Due</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">
                      Total
                    </th>
                    <th scope="col" class="num">
                      Still due
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {page.invoices.map((i) => (
                    <tr key={i.id}>
                      <td data-label="Bill">
                        <a href={`${base}/bills/${encodeURIComponent(i.id)}`}>{i.number ?? i.id}</a>
                      </td>
                      <td data-label="Date">{date(i.created)}</td>
                      <td data-label="Due">{date(i.due_date) || '—'}</td>
                      <td data-label="Status">
                        <span class={`status status-${i.status}`}>{invoiceStatus(i.status)}</span>
                      </td>
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
              {pager('Pages of bills', page.next_cursor)}
            </>
          )
        }
      </Show>
    </>
  );
}

export function BillDetail() {
  const { params } = useRoute();
  const id = params['id']!;
  const invoiceId = params['invoice']!;
  const { me } = useSession();
  const role = roleOn(me, id);
  const load = useLoad(
    () => call(api.GET('/v1/accounts/{account_id}/invoices/{invoice_id}', { params: { path: { account_id: id, invoice_id: invoiceId } } })),
    [id, invoiceId],
  );
  if (load.error) return <Failure error={load.error} />;
  if (!load.data) return <Loading />;
  return <Invoice invoice={load.data} account={id} canPay={can.manageBilling(role)} />;
}

export function Invoice({ invoice: i, account, canPay, heading = true }: { invoice: Schemas['InvoiceView']; account: string; canPay: boolean; heading?: boolean }) {
  const base = `/accounts/${encodeURIComponent(account)}`;
  // A contract bill's PDF is kept by this system (its link lasts minutes: made on click); a card
  // invoice's is the processor's.
  const storedPdf = !i.pdf_url && i.status !== 'draft' && i.id.startsWith('bill_');
  const pdf = useAction(async () => goTo(await pdfLink(account, i.id)));
  const Title = heading ? PageTitle : ({ children }: { children: string }) => <h2>{children}</h2>;
  return (
    <article class="invoice">
      <Title>{`Bill ${i.number ?? i.id}`}</Title>
      <dl class="pairs">
        <dt>Status</dt>
        <dd>
          <span class={`status status-${i.status}`}>{invoiceStatus(i.status)}</span>
        </dd>
        <dt>Date</dt>
        <dd>{date(i.created)}</dd>
        {i.due_date && (
          <>
            <dt>Due</dt>
            <dd>{date(i.due_date)}</dd>
          </>
        )}
        <dt>Services</dt>
        <dd>{period(i.service_period)}</dd>
      </dl>
      {i.groups.map((g) => (
        <table class="stack lines" key={g.name}>
          <caption>{g.name}</caption>
          <thead>
            <tr>
              <th scope="col">Description</th>
              <th scope="col">Charge</th>
              <th scope="col">Service period</th>
              <th scope="col" class="num">
                Qty
              </th>
              <th scope="col" class="num">
                Unit price
              </th>
              <th scope="col" class="num">
                Amount
              </th>
            </tr>
          </thead>
          <tbody>
            {g.lines.map((l) => (
              <tr key={l.id}>
                <td data-label="Description">{l.description}</td>
                <td data-label="Charge">{chargeKind(l.kind)}</td>
                <td data-label="Service period">
                  {period(l.service_period)}
                  {l.service_period.partial && <span class="tag"> (partial period)</span>}
                </td>
                <td data-label="Qty" class="num">
                  {l.quantity ?? '—'}
                </td>
                <td data-label="Unit price" class="num">
                  {l.unit_amount ? money(l.unit_amount) : '—'}
                </td>
                <td data-label="Amount" class="num">
                  {money(l.amount)}
                </td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={5}>
                Subtotal {g.name}
              </th>
              <td class="num" data-label={`Subtotal ${g.name}`}>
                {money(g.subtotal)}
              </td>
            </tr>
          </tfoot>
        </table>
      ))}
      {!i.lines_complete && <p class="muted">Some lines of this bill are still being loaded from the payment processor.</p>}
      <dl class="pairs totals">
        <dt>Subtotal (excl. tax)</dt>
        <dd>{money(i.subtotal)}</dd>
        {i.taxes.length === 0 ? (
          <>
            <dt>Tax</dt>
            <dd>{money(i.tax)}</dd>
          </>
        ) : (
          i.taxes.map((t) => (
            <Fragment key={`${t.code}:${t.rate}`}>
              <dt>
                {t.name} {t.rate}%{t.inclusive ? ' (included)' : ''} on {money(t.taxable_base)}
              </dt>
              <dd>{money(t.amount)}</dd>
            </Fragment>
          ))
        )}
        <dt>Total</dt>
        <dd>{money(i.total)}</dd>
        <dt>Paid</dt>
        <dd>{money(i.amount_paid)}</dd>
        <dt>Amount due</dt>
        <dd class="strong" data-testid="amount-due">
          {money(i.amount_remaining)}
        </dd>
      </dl>
      {i.tax_notes.map((n) => (
        <p class="muted" key={n}>
          {n}
        </p>
      ))}
      {i.account_summary && <AccountSummary s={i.account_summary} />}
      <p class="actions">
        {i.status === 'open' && isPositive(i.amount_remaining) && canPay && (
          <a class="btn btn-primary" href={`${base}/billing?invoice=${encodeURIComponent(i.id)}`}>
            Pay this bill
          </a>
        )}
        {i.hosted_invoice_url && (
          <a href={i.hosted_invoice_url} rel="noopener">
            View online
          </a>
        )}
        {i.pdf_url && (
          <a href={i.pdf_url} rel="noopener">
            Download PDF
          </a>
        )}
        {storedPdf && (
          <Button kind="secondary" pending={pdf.pending} onClick={() => void pdf.run()}>
            Download PDF
          </Button>
        )}
      </p>
      <Failure error={pdf.error} />
    </article>
  );
}

/** A contract bill's account summary: what was owed at the last bill, what came in since, what
 * is carried forward, this bill, and the total due as of its cut-off (what its stub asks for). */
function AccountSummary({ s }: { s: Schemas['AccountSummary'] }) {
  // Payments and credits read as deductions.
  const minus = (m: Schemas['Money']) =>
    isZero(m) ? money(m) : money({ ...m, amount: m.amount.startsWith('-') ? m.amount.slice(1) : `-${m.amount}` });
  const inCredit = s.total_due.amount.startsWith('-');
  return (
    <section aria-labelledby="account-summary" data-testid="account-summary">
      <h2 id="account-summary">Account summary</h2>
      <p class="muted">As of {date(s.cut_off)}</p>
      <dl class="pairs totals">
        <dt>Previous balance</dt>
        <dd>{money(s.previous_balance)}</dd>
        <dt>Payments received</dt>
        <dd>{minus(s.payments)}</dd>
        <dt>Credits and adjustments</dt>
        <dd>{minus(s.credits)}</dd>
        <dt>Balance forward</dt>
        <dd>{money(s.balance_forward)}</dd>
        <dt>New charges (this bill)</dt>
        <dd>{money(s.new_charges)}</dd>
        <dt>Total amount due</dt>
        <dd class="strong" data-testid="total-due">
          {money(s.total_due)}
        </dd>
      </dl>
      {inCredit && <p class="muted">The account is in credit: nothing to pay.</p>}
    </section>
  );
}
