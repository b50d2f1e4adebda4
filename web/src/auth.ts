/** Signing in with Cognito through Amplify's auth module (SRP; tokens kept and refreshed by it). */
import { Amplify } from '@aws-amplify/core';
import {
  confirmResetPassword,
  confirmSignIn,
  confirmSignUp,
  fetchAuthSession,
  resetPassword,
  signIn,
  signOut,
  signUp,
  updatePassword,
} from '@aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from '@aws-amplify/auth/cognito';
import type { PortalConfig } from './config';

/** Amplify's auth module on its own (without the `aws-amplify` umbrella and its other
 * categories): the user-pool token provider keeps the tokens (localStorage) and refreshes them. */
export function configureAuth(config: PortalConfig): void {
  const auth = {
    Cognito: {
      userPoolId: config.cognito.userPoolId,
      userPoolClientId: config.cognito.userPoolClientId,
      ...(config.cognito.userPoolEndpoint ? { userPoolEndpoint: config.cognito.userPoolEndpoint } : {}),
      loginWith: { email: true },
    },
  };
  cognitoUserPoolsTokenProvider.setAuthConfig(auth);
  Amplify.configure({ Auth: auth }, { Auth: { tokenProvider: cognitoUserPoolsTokenProvider } });
}

/** The current ID token (refreshed by Amplify before it expires), or null when signed out. */
export async function idToken(): Promise<string | null> {
  try {
    const s = await fetchAuthSession();
    return s.tokens?.idToken?.toString() ?? null;
  } catch {
    return null;
  }
}

/** The signed-in user's e-mail, from the ID token. */
export async function signedInEmail(): Promise<string | null> {
  try {
    const s = await fetchAuthSession();
    const e = s.tokens?.idToken?.payload?.['email'];
    return typeof e === 'string' ? e : null;
  } catch {
    return null;
  }
}

export type SignInResult = { done: true } | { done: false; step: 'new_password' };

export async function doSignIn(email: string, password: string): Promise<SignInResult> {
  // A session left from another user would make Amplify refuse a new sign-in.
  await signOut().catch(() => undefined);
  const r = await signIn({ username: email.trim(), password, options: { authFlowType: 'USER_SRP_AUTH' } });
  if (r.isSignedIn) return { done: true };
  if (r.nextStep.signInStep === 'CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED') return { done: false, step: 'new_password' };
  throw new Error(`This sign-in needs a step the portal does not offer (${r.nextStep.signInStep}); contact support.`);
}

export async function doNewPassword(password: string): Promise<void> {
  const r = await confirmSignIn({ challengeResponse: password });
  if (!r.isSignedIn) throw new Error(`Sign-in is not complete (${r.nextStep.signInStep}).`);
}

export const doSignOut = (): Promise<void> => signOut();

/** A new login for `email` (an invited person, or someone about to create an account); Cognito
 * mails a code to confirm the address. */
export async function doSignUp(email: string, password: string): Promise<void> {
  await signUp({ username: email.trim(), password, options: { userAttributes: { email: email.trim() } } });
}

export async function doConfirmSignUp(email: string, code: string): Promise<void> {
  await confirmSignUp({ username: email.trim(), confirmationCode: code.trim() });
}

export async function doForgot(email: string): Promise<void> {
  await resetPassword({ username: email.trim() });
}

export async function doConfirmForgot(email: string, code: string, password: string): Promise<void> {
  await confirmResetPassword({ username: email.trim(), confirmationCode: code.trim(), newPassword: password });
}

export async function doChangePassword(oldPassword: string, newPassword: string): Promise<void> {
  await updatePassword({ oldPassword, newPassword });
}

export const PASSWORD_RULE = 'At least 12 characters, with an upper-case letter, a lower-case letter and a number.';

/** What a person reads for Cognito's errors (by the error's name, which Amplify keeps). */
export function authMessage(e: unknown): string {
  const name = (e as { name?: string } | null)?.name ?? '';
  switch (name) {
    case 'NotAuthorizedException':
      return 'Wrong e-mail or password.';
    case 'UserNotFoundException':
      return 'No user has that e-mail address.';
    case 'UserNotConfirmedException':
      return 'This user has not confirmed their e-mail address yet.';
    case 'UsernameExistsException':
      return 'There is already a login for this e-mail. Sign in, or reset the password.';
    case 'CodeMismatchException':
      return 'That code is not right. Check the e-mail and try again.';
    case 'ExpiredCodeException':
      return 'That code has expired. Ask for a new one.';
    case 'InvalidPasswordException':
    case 'InvalidParameterException':
      return `The new password does not meet the policy. ${PASSWORD_RULE}`;
    case 'LimitExceededException':
    case 'TooManyRequestsException':
    case 'TooManyFailedAttemptsException':
      return 'Too many attempts. Wait a few minutes and try again.';
    case 'EmptySignInUsername':
    case 'EmptySignUpUsername':
    case 'EmptyResetPasswordUsername':
      return 'Enter your e-mail address.';
    case 'EmptySignInPassword':
      return 'Enter your password.';
    case 'EmptyConfirmResetPasswordConfirmationCode':
      return 'Enter the code from the e-mail.';
    case 'EmptyConfirmResetPasswordNewPassword':
    case 'EmptyUpdatePassword':
      return 'Enter a new password.';
    case 'NetworkError':
      return 'The sign-in service cannot be reached. Check your connection and try again.';
    default:
      return (e as { message?: string } | null)?.message || 'Something went wrong. Try again.';
  }
}
