import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';
import { accountName, can, roleOn, useSession } from './session';

/** The account in the URL (`/accounts/:id/...`), if any. */
export function accountInPath(path: string): string | null {
  const m = /^\/accounts\/([^/]+)/.exec(path);
  return m && m[1] !== 'new' ? decodeURIComponent(m[1]!) : null;
}

const ROLE_LABEL = { admin: 'Admin', billing: 'Billing', viewer: 'Viewer' } as const;

export function Layout({ children }: { children: ComponentChildren }) {
  const session = useSession();
  const { config, me, signOut } = session;
  const { path, route } = useLocation();
  const account = accountInPath(path);
  const role = account ? roleOn(me, account) : null;
  const base = account ? `/accounts/${encodeURIComponent(account)}` : '';
  const links: [string, string, boolean][] = account
    ? [
        [base, 'Overview', true],
        [`${base}/billing`, 'Pay', true],
        [`${base}/bills`, 'Bills', true],
        [`${base}/statement`, 'Statement', true],
        [`${base}/payment-methods`, 'Cards', true],
        [`${base}/settings`, 'Address & recipients', true],
        [`${base}/users`, 'Users', true],
        [`${base}/seats`, 'Seats', true],
        [`${base}/audit`, 'Audit trail', can.readAudit(role)],
      ]
    : [];
  const current = (href: string) =>
    href === base ? path === base : path === href || path.startsWith(`${href}/`);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="top-row">
          <a class="brand" href={account ? base : '/'}>
            {config.sellerName} <span class="muted">billing</span>
          </a>
          <div class="who">
            {me.memberships.length > 1 && (
              <label class="switcher">
                <span class="sr-only">Account</span>
                <select
                  aria-label="Switch account"
                  value={account ?? ''}
                  onChange={(e) => route(`/accounts/${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}
                >
                  {!account && <option value="">Choose an account</option>}
                  {me.memberships.map((m) => (
                    <option value={m.account_id} key={m.account_id}>
                      {accountName(session, m.account_id)} ({ROLE_LABEL[m.role]})
                    </option>
                  ))}
                </select>
              </label>
            )}
            <span class="user" title="Signed in as">
              {me.user.email}
              {role && <span class="role-badge">{ROLE_LABEL[role]}</span>}
            </span>
            <a href="/password">Password</a>
            <button type="button" class="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
        {links.length > 0 && (
          <nav aria-label="Account">
            <ul>
              {links
                .filter(([, , shown]) => shown)
                .map(([href, label]) => (
                  <li key={href}>
                    <a href={href} aria-current={current(href) ? 'page' : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
            </ul>
          </nav>
        )}
      </header>
      <main id="main">{children}</main>
      <footer class="foot">
        {config.supportEmail && (
          <p>
            Questions about a bill? <a href={`mailto:${config.supportEmail}`}>{config.supportEmail}</a>
          </p>
        )}
      </footer>
    </>
  );
}
