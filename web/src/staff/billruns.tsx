/** Bill runs, four eyes: preview a bill date (what each due account would be billed, flagged
 * where it moved against its last bill), make the drafts, have a second person approve them,
 * then finalize the approved drafts and read the run's report. */
import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { date, dateTime, money } from '../format';
import { Alert, Button, Failure, Field, PageTitle, Show, useAction, useLoad } from '../ui';
import { type StaffSchemas, staffApi } from './api';
import { Form, type Me, accountPath, can, useReason, words } from './common';

type View = StaffSchemas['RunView'];
type Line = StaffSchemas['RunLine'];
type Record = StaffSchemas['BillRunRecord'];
type Tally = StaffSchemas['BillTally'];

const OUTCOME: Partial<{ [K in StaffSchemas['Outcome']]: string }> = {
  would_bill: 'Would bill',
  drafted: 'Drafted',
  draft_pending: 'Draft waiting',
  finalized: 'Finalized',
  nothing_to_bill: 'Nothing to bill',
};

const today = () => new Date().toISOString().slice(0, 10);
const bills = (n: number) => `${n} bill${n === 1 ? '' : 's'}`;
const drafts = (n: number) => `${n} draft${n === 1 ? '' : 's'}`;
const totals = (t: Tally) => (t.totals.length ? t.totals.map((m) => money(m)).join(' + ') : '—');

function Change({ line }: { line: Line }) {
  const c = line.compared;
  if (!c) return <>—</>;
  const pct = c.change_percent ? `${c.change_percent.startsWith('-') ? '' : '+'}${c.change_percent}%` : '';
  switch (c.flag) {
    case 'first_bill':
      return <span class="flag">First bill</span>;
    case 'other_currency':
      return <span class="flag">Other currency</span>;
    case 'up':
      return <span class="flag">Up {pct}</span>;
    case 'down':
      return <span class="flag">Down {pct}</span>;
    default:
      return <>{pct || 'Same'}</>;
  }
}

function Steps({ record }: { record: Record | null | undefined }) {
  const at = (s: StaffSchemas['RunStep'] | null | undefined) => (s ? ` by ${s.email}, ${dateTime(s.at)}` : '');
  const current = record?.status ?? 'preview';
  const steps: [string, string][] = [
    ['preview', 'Preview'],
    ['drafted', `Drafts: ${record ? `${record.drafts.bills}${at(record.drafted)}` : 'not made'}`],
    ['approved', `Approved${record?.approved ? at(record.approved) : ': not yet'}`],
    ['finalized', `Finalized${record?.finalized ? `: ${record.finalized_bills?.bills ?? 0}${at(record.finalized)}` : ': not yet'}`],
  ];
  return (
    <ol class="steps" aria-label="Where this run stands">
      {steps.map(([k, label]) => (
        <li key={k} aria-current={k === current ? 'step' : undefined}>
          {label}
        </li>
      ))}
    </ol>
  );
}

function Lines({ view }: { view: View }) {
  if (view.lines.length === 0) return <p>No account is due on or before {date(view.date)}.</p>;
  return (
    <table class="stack" data-testid="run-lines">
      <caption class="sr-only">Accounts due, as this step saw them</caption>
      <thead>
        <tr>
          <th scope="col">Account</th>
          <th scope="col">Bill date</th>
          <th scope="col">Status</th>
          <th scope="col" class="num">
            Total
          </th>
          <th scope="col" class="num">
            Last bill
          </th>
          <th scope="col">Change</th>
        </tr>
      </thead>
      <tbody>
        {view.lines.map((l) => (
          <tr key={`${l.account_id}:${l.bill_date}`}>
            <td data-label="Account">
              <a href={accountPath(l.account_id)}>{l.name || l.account_id}</a>
            </td>
            <td data-label="Bill date">{date(l.bill_date)}</td>
            <td data-label="Status">
              {OUTCOME[l.outcome] ?? words(l.outcome)}
              {l.number ? ` ${l.number}` : ''}
              {l.unrated_usage > 0 ? ` (${l.unrated_usage} usage records unpriced)` : ''}
            </td>
            <td data-label="Total" class="num">
              {l.total ? money(l.total) : '—'}
            </td>
            <td data-label="Last bill" class="num">
              {l.compared?.previous ? money(l.compared.previous.total) : '—'}
            </td>
            <td data-label="Change">
              <Change line={l} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A run's step (drafts, approve, finalize): its reason and its button. */
function Step({
  id,
  title,
  text,
  label,
  onRun,
}: {
  id: string;
  title: string;
  text: string;
  label: string;
  onRun: (header: ReturnType<ReturnType<typeof useReason>['header']>) => Promise<void>;
}) {
  const why = useReason('other');
  const act = useAction(async () => onRun(why.header()));
  return (
    <Form title={title} id={id}>
      <p>{text}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act.run();
        }}
      >
        {why.fields}
        <Failure error={act.error} />
        <Button type="submit" pending={act.pending}>
          {label}
        </Button>
      </form>
    </Form>
  );
}

export function BillRuns({ me }: { me: Me }) {
  const [day, setDay] = useState(today());
  const [asked, setAsked] = useState(today());
  // What the last step returned (drafts, finalize): shown instead of the preview until asked again.
  const [stepped, setStepped] = useState<View>();
  // What the last step did, said above the accounts (the step's own form goes once it is done).
  const [notice, setNotice] = useState<string>();
  const preview = useLoad(() => call(staffApi.GET('/v1/staff/bill-runs/{date}', { params: { path: { date: asked } } })), [asked]);
  const runs = useLoad(() => call(staffApi.GET('/v1/staff/bill-runs')), []);
  const path = { params: { path: { date: asked } } };
  const refresh = (message: string, v?: View) => {
    setNotice(message);
    setStepped(v);
    void preview.reload();
    void runs.reload();
  };
  return (
    <>
      <PageTitle>Bill runs</PageTitle>
      <form
        class="toolbar spaced"
        onSubmit={(e) => {
          e.preventDefault();
          setStepped(undefined);
          setNotice(undefined);
          setAsked(day || today());
        }}
      >
        <Field label="Bill date" type="date" value={day} onValue={setDay} hint="Accounts due on or before it" required />
        <Button kind="secondary" type="submit">
          Preview
        </Button>
      </form>
      <Show load={preview}>
        {(p) => {
          const v = stepped ?? p;
          const record = p.record;
          const mine = record?.drafted.by === me.id;
          const billable = p.lines.some((l) => l.outcome === 'would_bill' || l.outcome === 'draft_pending');
          return (
            <>
              <h2>Run of {date(p.date)}</h2>
              <Steps record={record} />
              <p data-testid="run-summary">
                {v === p ? 'Would bill' : 'This step'}: {bills(v.tally.bills)}, {totals(v.tally)}.{' '}
                {v.flagged > 0 && <span class="flag">{v.flagged} changed against the last bill</span>}
              </p>
              {notice && <Alert kind="success">{notice}</Alert>}
              {v.more && <Alert kind="info">Stopped before its time ran out: do the step again to go on.</Alert>}
              {v.failures.length > 0 && (
                <Alert>
                  Not billed: {v.failures.map((f) => `${f.account_id ?? 'run'}: ${f.error}`).join('; ')}
                </Alert>
              )}
              <Lines view={v} />
              {can(me, 'bill_run:preview') && billable && record?.status !== 'approved' && (
                <Step
                  id="make-drafts"
                  title="Make the drafts"
                  text="Drafts stay off the customers' bills until they are approved and finalized. Another person approves them."
                  label="Make the drafts"
                  onRun={async (header) => {
                    const r = await call(staffApi.POST('/v1/staff/bill-runs/{date}/drafts', { ...path, params: { ...path.params, header } }));
                    refresh(`${drafts(r.record?.drafts.bills ?? 0)} waiting for approval.`, r);
                  }}
                />
              )}
              {record?.status === 'drafted' && can(me, 'bill_run:finalize') && !mine && (
                <Step
                  id="approve-run"
                  title="Approve the drafts"
                  text={`${drafts(record.drafts.bills)}, ${totals(record.drafts)}, made by ${record.drafted.email}. Look at the flagged ones first.`}
                  label="Approve the drafts"
                  onRun={async (header) => {
                    await call(staffApi.POST('/v1/staff/bill-runs/{date}/approve', { ...path, params: { ...path.params, header } }));
                    refresh('Approved: the drafts may be finalized.');
                  }}
                />
              )}
              {record?.status === 'drafted' && mine && <p>You made these drafts: another approver approves them.</p>}
              {record?.status === 'drafted' && !can(me, 'bill_run:finalize') && !mine && <p>An approver approves these drafts.</p>}
              {record?.status === 'approved' && can(me, 'bill_run:finalize') && (
                <Step
                  id="finalize-run"
                  title="Finalize"
                  text="Numbers the approved drafts and sends them to the customers. Only approved drafts are finalized."
                  label="Finalize the approved drafts"
                  onRun={async (header) => {
                    const r = await call(staffApi.POST('/v1/staff/bill-runs/{date}/finalize', { ...path, params: { ...path.params, header } }));
                    refresh(`${bills(r.tally.bills)} finalized, ${totals(r.tally)}.`, r);
                  }}
                />
              )}
            </>
          );
        }}
      </Show>
      <section aria-labelledby="recent-runs">
        <h2 id="recent-runs">Recent runs</h2>
        <Show load={runs}>
          {(list) =>
            list.length === 0 ? (
              <p>None reviewed yet.</p>
            ) : (
              <table class="stack" data-testid="runs">
                <caption class="sr-only">Reviewed runs, newest bill date first</caption>
                <thead>
                  <tr>
                    <th scope="col">Bill date</th>
                    <th scope="col">Status</th>
                    <th scope="col">Drafts</th>
                    <th scope="col">Finalized</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.date}>
                      <td data-label="Bill date">
                        <button
                          type="button"
                          class="link"
                          onClick={() => {
                            setDay(r.date);
                            setStepped(undefined);
                            setAsked(r.date);
                          }}
                        >
                          {date(r.date)}
                        </button>
                      </td>
                      <td data-label="Status">{words(r.status)}</td>
                      <td data-label="Drafts">
                        {r.drafts.bills} by {r.drafted.email}
                      </td>
                      <td data-label="Finalized">
                        {r.finalized ? `${r.finalized_bills?.bills ?? 0}, ${totals(r.finalized_bills ?? r.drafts)} by ${r.finalized.email}` : '—'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </section>
    </>
  );
}
