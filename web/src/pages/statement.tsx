import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, call, failure, type Schemas } from '../api/client';
import { date, isPositive, isZero, money } from '../format';
import { Button, Failure, Field, PageTitle, Show, saveBlob, useAction, useLoad } from '../ui';

const KIND: Record<Schemas['EntryKind'], string> = {
  invoice: 'Bill',
  payment: 'Payment',
  credit_note: 'Credit note',
  void: 'Voided',
  returned_payment: 'Returned payment',
};

const BUCKETS: [keyof Schemas['StatementAging'], string][] = [
  ['current', 'Current'],
  ['days_1_30', '1–30 days'],
  ['days_31_60', '31–60 days'],
  ['days_61_90', '61–90 days'],
  ['over_90', 'Over 90 days'],
];

/** Days past due as words. */
function age(days: number): string {
  if (days > 1) return `${days} days past due`;
  if (days === 1) return '1 day past due';
  if (days === 0) return 'due today';
  if (days === -1) return 'due tomorrow';
  return `due in ${-days} days`;
}

/** Downloads the statement's PDF for the period (the API makes it; the browser saves it). */
async function downloadPdf(account_id: string, from: string, to: string): Promise<void> {
  const r = await api.GET('/v1/accounts/{account_id}/statement/pdf', {
    params: { path: { account_id }, query: { from, to } },
    parseAs: 'blob',
  });
  if (!r.response.ok || !r.data) throw failure(r.response.status, r.error);
  saveBlob(r.data as Blob, `statement_${account_id}_${from}_${to}.pdf`);
}

/** The statement of account for a period: opening balance, every bill, payment and credit with
 * the running balance, closing balance, what is still open and how old, and its PDF. */
export function Statement() {
  const { params } = useRoute();
  const id = params['id']!;
  // The period asked for; blank: the API's default (three months to today).
  const [asked, setAsked] = useState<{ from?: string; to?: string }>({});
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const load = useLoad(
    () => call(api.GET('/v1/accounts/{account_id}/statement', { params: { path: { account_id: id }, query: asked } })),
    [id, asked.from, asked.to],
  );
  const pdf = useAction(async (f: string, t: string) => downloadPdf(id, f, t));
  // The fields show the period stated (the default one until another is asked for).
  useEffect(() => {
    if (load.data) {
      setFrom(load.data.from);
      setTo(load.data.to);
    }
  }, [load.data]);
  return (
    <>
      <PageTitle>Statement</PageTitle>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked({ ...(from ? { from } : {}), ...(to ? { to } : {}) });
        }}
      >
        <Field label="From" type="date" value={from} onValue={setFrom} />
        <Field label="To" type="date" value={to} onValue={setTo} />
        <Button kind="secondary" type="submit">
          Show
        </Button>
      </form>
      <Show load={load}>
        {(s) => (
          <>
            <p data-testid="statement-period">
              {date(s.from)} – {date(s.to)}
            </p>
            <table class="stack" data-testid="statement">
              <caption class="sr-only">Activity, oldest first, with the balance after each</caption>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">What</th>
                  <th scope="col" class="num">
                    Charges
                  </th>
                  <th scope="col" class="num">
                    Payments and credits
                  </th>
                  <th scope="col" class="num">
                    Balance
                  </th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <td data-label="Date">{date(s.from)}</td>
                  <td data-label="What">Opening balance</td>
                  <td class="num blank-cell" />
                  <td class="num blank-cell" />
                  <td data-label="Balance" class="num" data-testid="opening-balance">
                    {money(s.opening_balance)}
                  </td>
                </tr>
                {s.entries.map((e) => (
                  <tr key={`${e.kind}:${e.reference}:${e.invoice_id}`}>
                    <td data-label="Date">{date(e.date)}</td>
                    <td data-label={KIND[e.kind]}>{e.description}</td>
                    {isZero(e.debit) ? <td class="num blank-cell" /> : <td data-label="Charge" class="num">{money(e.debit)}</td>}
                    {isZero(e.credit) ? <td class="num blank-cell" /> : <td data-label="Credit" class="num">{money(e.credit)}</td>}
                    <td data-label="Balance" class="num">
                      {money(e.balance)}
                    </td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row" colSpan={4}>
                    Closing balance {date(s.to)}
                  </th>
                  <td class="num strong" data-testid="closing-balance">
                    {money(s.closing_balance)}
                  </td>
                </tr>
              </tfoot>
            </table>
            {s.entries.length === 0 && <p class="muted">Nothing happened on this account in this period.</p>}
            <dl class="pairs totals">
              <dt>Charges</dt>
              <dd>{money(s.total_debits)}</dd>
              <dt>Payments and credits</dt>
              <dd>{money(s.total_credits)}</dd>
              {!isZero(s.unapplied_credit) && (
                <>
                  <dt>Unapplied credit (taken off the next bill)</dt>
                  <dd>{money(s.unapplied_credit)}</dd>
                </>
              )}
            </dl>
            <section aria-labelledby="open-bills">
              <h2 id="open-bills">Open on {date(s.to)}</h2>
              {s.open_items.length === 0 ? (
                <p>Nothing is owed.</p>
              ) : (
                <ul class="plain" data-testid="open-items">
                  {s.open_items.map((o) => (
                    <li key={o.invoice_id}>
                      <a href={`/accounts/${encodeURIComponent(id)}/bills/${encodeURIComponent(o.invoice_id)}`}>
                        {o.number ?? o.invoice_id}
                      </a>
                      : {money(o.amount_remaining)}, due {date(o.due)} ({age(o.days_past_due)})
                    </li>
                  ))}
                </ul>
              )}
              <dl class="pairs totals" data-testid="aging">
                {BUCKETS.map(([k, label]) => (
                  <Fragment key={k}>
                    <dt>{label}</dt>
                    <dd class={isPositive(s.aging[k]) && k !== 'current' ? 'strong' : undefined}>{money(s.aging[k])}</dd>
                  </Fragment>
                ))}
              </dl>
            </section>
            <p class="actions">
              <Button kind="secondary" pending={pdf.pending} onClick={() => void pdf.run(s.from, s.to)}>
                Download PDF
              </Button>
            </p>
            <Failure error={pdf.error} />
          </>
        )}
      </Show>
    </>
  );
}
