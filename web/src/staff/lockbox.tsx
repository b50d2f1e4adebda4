/** The bank's lockbox file: upload it, see what became of each check, and work the exceptions
 * queue — apply a waiting check to an account (its bank account is remembered for next time) or
 * return it. */
import { useState } from 'preact/hooks';
import { call, failure } from '../api/client';
import { date, dateTime, isPositive, money } from '../format';
import { Alert, Button, Failure, Field, PageTitle, Show, useAction, useLoad } from '../ui';
import { type StaffSchemas, staffApi } from './api';
import { Form, type Me, accountPath, can, useReason, words } from './common';

type Item = StaffSchemas['LockboxItem'];

const EXCEPTION: Record<StaffSchemas['Exception']['kind'], string> = {
  unidentified: 'Nothing tells whose check it is',
  other_customers_invoice: 'It names another customer’s bill',
  unknown_invoice: 'It names a bill that does not exist or is not open',
  bad_scan_line: 'The stub’s scan line failed its check digit',
  other_currency: 'The account bills in another currency',
  nothing_owed: 'The payer owes nothing and has no bill to carry the credit',
};

function why(item: Item): string {
  const o = item.outcome;
  switch (o.status) {
    case 'applied':
      return `Applied to ${o.account_id} (by ${words(o.by)}): ${o.bills.map((b) => `${money(b.amount)} on ${b.number ?? b.invoice_id}`).join(', ')}${isPositive(o.to_credit) ? `, ${money(o.to_credit)} to credit` : ''}`;
    case 'exception': {
      const e = o.exception;
      return `Waiting: ${EXCEPTION[e.kind]}${'number' in e ? ` (${e.number})` : ''}`;
    }
    case 'resolved':
      return `Applied by ${o.by} to ${o.account_id}`;
    case 'returned':
      return `Returned by ${o.by}`;
  }
}

type Import = StaffSchemas['LockboxImport'];

/** `1 returned check`, `2 returned checks`. */
const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function returnedWhy(r: StaffSchemas['ReturnMatch']): string {
  const o = r.outcome;
  switch (o.status) {
    case 'returned':
      return `taken back from ${o.account_id}: ${o.bills.map((b) => b.number ?? b.invoice_id).join(', ')} owed again${o.fee ? `, fee ${money(o.fee)} on the next bill` : ''}`;
    case 'already_returned':
      return `taken back before (${o.account_id})`;
    case 'no_such_check':
      return 'no check of this number and amount was received here: look into it with the bank';
    case 'ambiguous':
      return `several accounts sent a check of this number and amount (${o.accounts.join(', ')}): take the right one back from its account page`;
  }
}

/** What a BAI2 file said: the lockbox deposits (matched to the lockbox file of the same total) and
 * the checks the bank returned. */
function Bai2Report({ file }: { file: Import }) {
  return (
    <ul class="plain">
      {file.deposits?.map((d) => (
        <li key={`d:${d.deposit.bank_reference}:${d.deposit.amount.amount}`}>
          Deposit {d.deposit.bank_reference || d.deposit.customer_reference} of {date(d.deposit.as_of)}, {money(d.deposit.amount)}:{' '}
          {d.lockbox_file ? `the lockbox file ${d.lockbox_file}` : <strong>no lockbox file has this total</strong>}
        </li>
      ))}
      {file.returns?.map((r) => (
        <li key={`r:${r.item.line}`}>
          Returned check {r.item.check_number}, {money(r.item.amount)} ({words(r.item.reason)}): {returnedWhy(r)}
        </li>
      ))}
    </ul>
  );
}

function FileLine({ f }: { f: Import }) {
  if (f.refused) return <strong>refused, nothing applied: {f.refused}</strong>;
  if (f.format === 'bai2') {
    return (
      <>
        BAI2 report: {count(f.deposits?.length ?? 0, 'deposit', 'deposits')}, {count(f.checks, 'returned check', 'returned checks')} ({money(f.total)}): {f.applied} taken back, {f.exceptions} to look into
        <Bai2Report file={f} />
      </>
    );
  }
  return <>{`${f.checks} checks, ${money(f.total)}: ${f.applied} applied, ${f.exceptions} to staff`}</>;
}

function CheckLine({ item }: { item: Item }) {
  return (
    <>
      Check {item.check_number} from {item.remitter || 'an unnamed payer'}, {money(item.amount)}
      {item.remittance.length > 0 ? `, naming ${item.remittance.join(', ')}` : ', no stub'}
    </>
  );
}

export function Lockbox({ me }: { me: Me }) {
  const files = useLoad(() => call(staffApi.GET('/v1/staff/lockbox-files')), []);
  const queue = useLoad(() => call(staffApi.GET('/v1/staff/lockbox-exceptions')), []);
  const changed = () => {
    void files.reload();
    void queue.reload();
  };
  return (
    <>
      <PageTitle>Lockbox</PageTitle>
      {can(me, 'payment:record') && <Upload onDone={changed} />}
      <section aria-labelledby="exceptions">
        <h2 id="exceptions">Checks waiting for you</h2>
        <Show load={queue}>
          {(items) =>
            items.length === 0 ? (
              <p>Nothing is waiting.</p>
            ) : (
              <ul class="cards" data-testid="lockbox-exceptions">
                {items.map((i) => (
                  <Waiting key={i.key} item={i} me={me} onDone={changed} />
                ))}
              </ul>
            )
          }
        </Show>
      </section>
      <section aria-labelledby="files">
        <h2 id="files">Files imported</h2>
        <Show load={files}>
          {(list) =>
            list.length === 0 ? (
              <p>None yet.</p>
            ) : (
              <ul class="plain" data-testid="lockbox-files">
                {list.map((f) => (
                  <li key={f.file_hash}>
                    {dateTime(f.imported_at)}: {f.name}, <FileLine f={f} /> <span class="muted">by {f.imported_by}</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Show>
      </section>
    </>
  );
}

function Upload({ onDone }: { onDone: () => void }) {
  const [file, setFile] = useState<File>();
  const [report, setReport] = useState<StaffSchemas['ImportView']>();
  const reason = useReason('payment_received');
  const send = useAction(async () => {
    if (!file) return;
    const body = await file.text();
    const r = await staffApi.POST('/v1/staff/lockbox-files', {
      params: { query: { name: file.name }, header: reason.header() },
      body,
      bodySerializer: (b: string) => b,
      headers: { 'content-type': 'text/plain' },
    });
    if (!r.response.ok || !r.data) throw failure(r.response.status, r.error);
    setReport(r.data);
    onDone();
  });
  return (
    <Form title="Import the bank's file" id="lockbox-upload">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setReport(undefined);
          void send.run();
        }}
      >
        <div class="field">
          <label for="lockbox-file">Lockbox file (BAI) or BAI2 report</label>
          <input id="lockbox-file" type="file" accept=".txt,.bai,.dat,text/plain" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])} required />
        </div>
        {reason.fields}
        <Failure error={send.error} />
        <Button type="submit" pending={send.pending}>
          Import
        </Button>
      </form>
      {report && (
        <div data-testid="lockbox-report">
          <Alert kind={report.import.exceptions > 0 ? 'info' : 'success'}>
            {report.status === 'duplicate'
              ? `This file came before (${dateTime(report.import.imported_at)}): nothing applied again.`
              : report.import.format === 'bai2'
                ? `BAI2 report: ${count(report.import.applied, 'returned check', 'returned checks')} taken back, ${report.import.exceptions} to look into.`
                : `${report.import.checks} checks, ${money(report.import.total)}: ${report.import.applied} applied, ${report.import.exceptions} waiting for you.`}
          </Alert>
          {report.import.format === 'bai2' && <Bai2Report file={report.import} />}
          <ul class="plain">
            {report.items.map((i) => (
              <li key={i.key}>
                <CheckLine item={i} />: {why(i)}
              </li>
            ))}
          </ul>
        </div>
      )}
    </Form>
  );
}

function Waiting({ item, me, onDone }: { item: Item; me: Me; onDone: () => void }) {
  const [account, setAccount] = useState('');
  const [done, setDone] = useState<string>();
  const reason = useReason('payment_received');
  const path = { params: { path: { key: item.key }, header: reason.header() } };
  const apply = useAction(async () => {
    const r = await call(staffApi.POST('/v1/staff/lockbox-exceptions/{key}/apply', { ...path, body: { account_id: account.trim() } }));
    setDone(why(r));
    onDone();
  });
  const back = useAction(async () => {
    await call(staffApi.POST('/v1/staff/lockbox-exceptions/{key}/return', path));
    setDone('Returned to the payer.');
    onDone();
  });
  return (
    <li class="card">
      <h3>
        <CheckLine item={item} />
      </h3>
      <p>
        {why(item)}. Deposited {date(item.deposit_date)} to lockbox {item.lockbox}; drawn on {item.routing || '?'} / {item.drawer_account || '?'}.
      </p>
      {item.outcome.status === 'exception' && item.outcome.exception.kind === 'other_customers_invoice' && (
        <p class="muted">Check with both customers before applying it: the payer and the bill's owner differ.</p>
      )}
      {can(me, 'payment:record') && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setDone(undefined);
            void apply.run();
          }}
        >
          <Field label="Whose check is it (account id)" value={account} onValue={setAccount} hint="acct_…: find it on Accounts" error={apply.error?.field('account_id')} required />
          {reason.fields}
          <Failure error={apply.error ?? back.error} />
          <p class="actions">
            <Button type="submit" pending={apply.pending}>
              Apply to the account
            </Button>
            <Button kind="danger" type="button" pending={back.pending} onClick={() => void back.run()}>
              Return the check
            </Button>
          </p>
        </form>
      )}
      {done && <Alert kind="success">{done}</Alert>}
      {account && <a href={accountPath(account.trim())}>Open {account.trim()}</a>}
    </li>
  );
}
