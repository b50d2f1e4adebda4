import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import {
  PASSWORD_RULE,
  authMessage,
  doChangePassword,
  doConfirmForgot,
  doConfirmSignUp,
  doForgot,
  doNewPassword,
  doSignIn,
  doSignUp,
} from '../auth';
import type { PortalConfig } from '../config';
import { Alert, Button, Field, PageTitle } from '../ui';

/** Where to go after signing in: a same-origin path from `?next=`, never another site. */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/signin')) return '/';
  return next;
}

function useAuthForm() {
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);
  const run = async (fn: () => Promise<void>) => {
    setPending(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(authMessage(e));
    } finally {
      setPending(false);
    }
  };
  return { error, pending, run };
}

/** One step of signing in: on submit, `action` runs (its failure shown in words), then the
 * step's submit button and anything `after` it. */
function AuthForm({
  form,
  action,
  submit,
  after,
  children,
}: {
  form: ReturnType<typeof useAuthForm>;
  action: () => Promise<void>;
  submit: string;
  after?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void form.run(action);
      }}
    >
      {children}
      {form.error && <Alert>{form.error}</Alert>}
      <Button type="submit" pending={form.pending}>
        {submit}
      </Button>
      {after}
    </form>
  );
}

export function SignIn({ config }: { config: PortalConfig }) {
  const { query } = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [newPassword, setNewPassword] = useState<string | null>(null);
  const form = useAuthForm();
  // A full load, so the signed-in part of the app starts fresh with this user.
  const done = () => window.location.assign(safeNext(query['next']));

  return (
    <main class="narrow auth" id="main">
      <p class="brand-line">{config.sellerName} billing</p>
      {newPassword === null ? (
        <>
          <PageTitle>Sign in</PageTitle>
          {query['reset'] === 'done' && <Alert kind="success">Your password was changed. Sign in with the new one.</Alert>}
          <AuthForm
            form={form}
            submit="Sign in"
            action={async () => {
              const r = await doSignIn(email, password);
              if (r.done) done();
              else setNewPassword('');
            }}
          >
            <Field label="E-mail" type="email" autoComplete="username" required value={email} onValue={setEmail} />
            <Field label="Password" type="password" autoComplete="current-password" required value={password} onValue={setPassword} />
          </AuthForm>
          <p>
            <a href={`/forgot${email ? `?email=${encodeURIComponent(email)}` : ''}`}>Forgot your password?</a>
          </p>
          <p>
            Invited, or new here? <a href="/signup">Create your login</a>
          </p>
        </>
      ) : (
        <>
          <PageTitle>Choose a new password</PageTitle>
          <p>Your account was set up with a temporary password. Choose your own to continue.</p>
          <AuthForm
            form={form}
            submit="Save and sign in"
            action={async () => {
              await doNewPassword(newPassword);
              done();
            }}
          >
            <Field label="New password" type="password" autoComplete="new-password" required hint={PASSWORD_RULE} value={newPassword} onValue={setNewPassword} />
          </AuthForm>
        </>
      )}
    </main>
  );
}

/** A new login: e-mail and password, then the code Cognito mails, then signed in. An invited
 * person joins their account on the first visit. */
export function SignUp({ config }: { config: PortalConfig }) {
  const { query } = useLocation();
  const [email, setEmail] = useState(query['email'] ?? '');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState(false);
  const form = useAuthForm();
  return (
    <main class="narrow auth" id="main">
      <p class="brand-line">{config.sellerName} billing</p>
      <PageTitle>Create your login</PageTitle>
      {!sent ? (
        <AuthForm
          form={form}
          submit="Create the login"
          action={async () => {
            await doSignUp(email, password);
            setSent(true);
          }}
        >
          <p>Use the e-mail address you were invited with, or the one you will bill from.</p>
          <Field label="E-mail" type="email" autoComplete="username" required value={email} onValue={setEmail} />
          <Field label="Password" type="password" autoComplete="new-password" required hint={PASSWORD_RULE} value={password} onValue={setPassword} />
        </AuthForm>
      ) : (
        <AuthForm
          form={form}
          submit="Confirm and sign in"
          action={async () => {
            await doConfirmSignUp(email, code);
            const r = await doSignIn(email, password);
            if (r.done) window.location.assign('/');
          }}
        >
          <Alert kind="info">We sent a code to {email} to confirm it is yours.</Alert>
          <Field label="Code from the e-mail" autoComplete="one-time-code" required value={code} onValue={setCode} />
        </AuthForm>
      )}
      <p>
        Have a login? <a href="/signin">Sign in</a>
      </p>
    </main>
  );
}

export function ForgotPassword() {
  const { query, route } = useLocation();
  const [email, setEmail] = useState(query['email'] ?? '');
  const [sent, setSent] = useState(false);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const form = useAuthForm();
  return (
    <main class="narrow auth" id="main">
      <PageTitle>Reset your password</PageTitle>
      {!sent ? (
        <AuthForm
          form={form}
          submit="Send the code"
          action={async () => {
            await doForgot(email);
            setSent(true);
          }}
        >
          <p>We will e-mail you a code to set a new password.</p>
          <Field label="E-mail" type="email" autoComplete="username" required value={email} onValue={setEmail} />
        </AuthForm>
      ) : (
        <AuthForm
          form={form}
          submit="Set the new password"
          after={
            <>
              {' '}
              <button type="button" class="link" onClick={() => setSent(false)}>
                Send another code
              </button>
            </>
          }
          action={async () => {
            await doConfirmForgot(email, code, password);
            route('/signin?reset=done');
          }}
        >
          <Alert kind="info">If {email} has a user here, a code is on its way to it.</Alert>
          <Field label="Code from the e-mail" autoComplete="one-time-code" required value={code} onValue={setCode} />
          <Field label="New password" type="password" autoComplete="new-password" required hint={PASSWORD_RULE} value={password} onValue={setPassword} />
        </AuthForm>
      )}
      <p>
        <a href="/signin">Back to sign in</a>
      </p>
    </main>
  );
}

export function ChangePassword() {
  const [oldPassword, setOld] = useState('');
  const [newPassword, setNew] = useState('');
  const [done, setDone] = useState(false);
  const form = useAuthForm();
  return (
    <section class="narrow">
      <PageTitle>Change your password</PageTitle>
      <AuthForm
        form={form}
        submit="Change password"
        action={async () => {
          setDone(false);
          await doChangePassword(oldPassword, newPassword);
          setDone(true);
          setOld('');
          setNew('');
        }}
      >
        <Field label="Current password" type="password" autoComplete="current-password" required value={oldPassword} onValue={setOld} />
        <Field label="New password" type="password" autoComplete="new-password" required hint={PASSWORD_RULE} value={newPassword} onValue={setNew} />
        {done && <Alert kind="success">Your password was changed.</Alert>}
      </AuthForm>
    </section>
  );
}
