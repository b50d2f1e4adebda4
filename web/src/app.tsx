import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, call, type Schemas } from './api/client';
import { doSignOut, idToken } from './auth';
import type { PortalConfig } from './config';
import { SessionContext, type Session } from './session';
import { Layout } from './layout';
import { Alert, Loading } from './ui';
import { ChangePassword, ForgotPassword, SignIn, SignUp } from './pages/auth';
import { Overview } from './pages/overview';
import { BillDetail, Bills } from './pages/bills';
import { Statement } from './pages/statement';
import { Billing } from './pages/billing';
import { PaymentMethods } from './pages/methods';
import { Settings } from './pages/settings';
import { Users } from './pages/users';
import { Seats } from './pages/seats';
import { Audit } from './pages/audit';
import { CreateAccount, Home } from './pages/accounts';

const PUBLIC = ['/signin', '/signup', '/forgot'];

function Authenticated({ config }: { config: PortalConfig }) {
  const { url, route } = useLocation();
  const [me, setMe] = useState<Schemas['MeView'] | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();

  const refreshMe = useCallback(async () => {
    const m = await call(api.GET('/v1/me'));
    setMe(m);
    // The switcher shows names; /v1/me carries ids only. Read them side by side, at most 20,
    // without holding the page up (an id stands in until its name arrives).
    void Promise.all(
      m.memberships.slice(0, 20).map(async ({ account_id }) => {
        try {
          const a = await call(api.GET('/v1/accounts/{account_id}', { params: { path: { account_id } } }));
          return [account_id, a.name] as const;
        } catch {
          return [account_id, account_id] as const;
        }
      }),
    ).then((pairs) => setNames(Object.fromEntries(pairs)));
  }, []);
  const signOut = useCallback(async () => {
    await doSignOut().catch(() => undefined);
    setMe(null);
    route('/signin');
  }, [route]);

  useEffect(() => {
    let live = true;
    (async () => {
      if (!(await idToken())) {
        if (live) route(`/signin?next=${encodeURIComponent(url)}`, true);
        return;
      }
      try {
        await refreshMe();
      } catch (e) {
        if (live) setError((e as Error).message);
      }
    })();
    const onExpired = () => void signOut();
    window.addEventListener('portal:unauthenticated', onExpired);
    return () => {
      live = false;
      window.removeEventListener('portal:unauthenticated', onExpired);
    };
    // Only on mount: pages load their own data.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  if (error) {
    return (
      <main class="narrow" id="main">
        <Alert>{error}</Alert>
      </main>
    );
  }
  if (!me) {
    return (
      <main class="narrow" id="main">
        <Loading what="Signing you in" />
      </main>
    );
  }
  const session: Session = { config, me, names, refreshMe, signOut };
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <Router>
          <Route path="/" component={Home} />
          <Route path="/accounts/new" component={CreateAccount} />
          <Route path="/password" component={ChangePassword} />
          <Route path="/accounts/:id" component={Overview} />
          <Route path="/accounts/:id/billing" component={Billing} />
          <Route path="/accounts/:id/bills" component={Bills} />
          <Route path="/accounts/:id/bills/:invoice" component={BillDetail} />
          <Route path="/accounts/:id/statement" component={Statement} />
          <Route path="/accounts/:id/payment-methods" component={PaymentMethods} />
          <Route path="/accounts/:id/settings" component={Settings} />
          <Route path="/accounts/:id/users" component={Users} />
          <Route path="/accounts/:id/seats" component={Seats} />
          <Route path="/accounts/:id/audit" component={Audit} />
          <Route default component={NotFound} />
        </Router>
      </Layout>
    </SessionContext.Provider>
  );
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <a href="/">Go to your accounts</a>
      </p>
    </>
  );
}

function Pages({ config }: { config: PortalConfig }) {
  const { path } = useLocation();
  if (PUBLIC.includes(path)) {
    return (
      <Router>
        <Route path="/signin" component={() => <SignIn config={config} />} />
        <Route path="/signup" component={() => <SignUp config={config} />} />
        <Route path="/forgot" component={ForgotPassword} />
      </Router>
    );
  }
  // Keyed by nothing: the signed-in part mounts once per sign-in.
  return <Authenticated config={config} />;
}

export function App({ config }: { config: PortalConfig }) {
  return (
    <LocationProvider>
      <Pages config={config} />
    </LocationProvider>
  );
}
