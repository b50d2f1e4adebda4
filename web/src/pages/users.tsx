import { useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, call, type Schemas } from '../api/client';
import { date } from '../format';
import { can, roleOn, useSession, type Role } from '../session';
import { Alert, Button, Failure, Field, PageTitle, Select, Show, useAction, useLoad } from '../ui';
import { path } from './data';

const ROLES: [Role, string][] = [
  ['admin', 'Admin: everything, including users'],
  ['billing', 'Billing: pay, cards, address'],
  ['viewer', 'Viewer: read only'],
];
const ROLE_NAME: Record<Role, string> = { admin: 'Admin', billing: 'Billing', viewer: 'Viewer' };

export function Users() {
  const { params } = useRoute();
  const id = params['id']!;
  const { me } = useSession();
  const admin = can.manageMembers(roleOn(me, id));
  const load = useLoad(() => call(api.GET('/v1/accounts/{account_id}/members', path(id))), [id]);
  const [note, setNote] = useState<string>();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('viewer');

  const invite = useAction(async () => {
    const m = await call(api.POST('/v1/accounts/{account_id}/members', { ...path(id), body: { email, role } }));
    setNote(`Invited ${m.email} as ${ROLE_NAME[m.role]}. They get an e-mail and join when they first sign in.`);
    setEmail('');
    await load.reload();
  });
  const change = useAction(async (m: Schemas['MemberView'], to: Role) => {
    await call(api.PATCH('/v1/accounts/{account_id}/members/{member_id}', { params: { path: { account_id: id, member_id: m.id } }, body: { role: to } }));
    setNote(`${m.email} is now ${ROLE_NAME[to]}.`);
    await load.reload();
  });
  const remove = useAction(async (m: Schemas['MemberView']) => {
    if (!window.confirm(`Remove ${m.email} from this account?`)) return;
    await call(api.DELETE('/v1/accounts/{account_id}/members/{member_id}', { params: { path: { account_id: id, member_id: m.id } } }));
    setNote(`${m.email} was removed.`);
    await load.reload();
  });
  const refusal = change.error ?? remove.error;

  return (
    <>
      <PageTitle>Users</PageTitle>
      {note && <Alert kind="success">{note}</Alert>}
      {refusal?.code === 'last_admin' ? (
        <Alert>An account needs at least one active admin. Make someone else an admin first.</Alert>
      ) : (
        <Failure error={refusal} />
      )}
      <Show load={load}>
        {(d) => (
          <table class="stack">
            <caption class="sr-only">Users of this account</caption>
            <thead>
              <tr>
                <th scope="col">E-mail</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                {admin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {d.members.map((m) => (
                <tr key={m.id}>
                  <td data-label="E-mail">{m.email}</td>
                  <td data-label="Role">
                    {admin ? (
                      <label>
                        <span class="sr-only">Role of {m.email}</span>
                        <select value={m.role} disabled={change.pending} onChange={(e) => void change.run(m, (e.target as HTMLSelectElement).value as Role)}>
                          {ROLES.map(([v]) => (
                            <option value={v} key={v}>
                              {ROLE_NAME[v]}
                            </option>
                          ))}
                        </select>
                      </label>
                    ) : (
                      ROLE_NAME[m.role]
                    )}
                  </td>
                  <td data-label="Status">{m.status === 'active' ? `Active since ${date(m.activated_at)}` : `Invited ${date(m.created_at)}`}</td>
                  {admin && (
                    <td data-label="Actions">
                      <Button kind="danger" pending={remove.pending} onClick={() => void remove.run(m)} aria-label={`Remove ${m.email}`}>
                        Remove
                      </Button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      {admin ? (
        <section class="card" aria-labelledby="invite-h">
          <h2 id="invite-h">Invite a user</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setNote(undefined);
              void invite.run();
            }}
          >
            <Field label="E-mail" type="email" required value={email} onValue={setEmail} error={invite.error?.field('email')} />
            <Select label="Role" value={role} onValue={setRole} options={ROLES} />
            {invite.error && !invite.error.field('email') && <Failure error={invite.error} />}
            <Button type="submit" pending={invite.pending}>
              Send the invitation
            </Button>
          </form>
        </section>
      ) : (
        <p class="muted">Only admins of this account can invite, change or remove users.</p>
      )}
    </>
  );
}
