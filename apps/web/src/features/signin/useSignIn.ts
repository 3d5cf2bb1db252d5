import type { Me } from '@tabgrid/protocol';
import { useCallback, useEffect, useState } from 'react';
import { ApiRequestError, askedEarly, describeError, fetchMe } from '../../lib/api';
import { clearApiKey, currentApiKey, saveApiKey } from '../../lib/apiKey';

export type SignIn =
  /** `tried`: the key just refused, left in the field to correct. */
  | { status: 'signed-out'; error: string | null; tried?: string }
  | { status: 'checking' }
  | { status: 'signed-in'; me: Me; apiKey: string };

/**
 * The requester signed in in this browser: checks the stored key with `GET /api/me`.
 * A key the server refuses (401) is forgotten; a network error keeps it (retry on reload).
 */
export function useSignIn(): SignIn & { signIn: (key: string) => void; signOut: () => void } {
  const [state, setState] = useState<SignIn>(() =>
    currentApiKey() ? { status: 'checking' } : { status: 'signed-out', error: null },
  );

  const check = useCallback(() => {
    const apiKey = currentApiKey();
    if (!apiKey) {
      setState({ status: 'signed-out', error: null });
      return;
    }
    setState({ status: 'checking' });
    askedEarly('me', apiKey, fetchMe).then(
      (me) => setState({ status: 'signed-in', me, apiKey }),
      (err: unknown) => {
        const refused = err instanceof ApiRequestError && err.status === 401;
        if (refused) clearApiKey();
        setState({
          status: 'signed-out',
          error: refused
            ? 'The server does not know this key (unauthorized). Check it for a missing or extra character, or make a new one.'
            : describeError(err),
          tried: apiKey,
        });
      },
    );
  }, []);

  useEffect(check, [check]);

  const signIn = useCallback(
    (key: string) => {
      saveApiKey(key);
      check();
    },
    [check],
  );
  const signOut = useCallback(() => {
    clearApiKey();
    setState({ status: 'signed-out', error: null });
  }, []);

  return { ...state, signIn, signOut };
}
