import { useState, type FormEvent } from 'react';

/** Asks for an API key (the sign-in link printed on first start fills it in by itself). */
export function SignInPanel({
  error,
  tried = '',
  onSignIn,
}: {
  error: string | null;
  /** A key the server just refused: kept in the field to correct, not cleared. */
  tried?: string;
  onSignIn: (key: string) => void;
}) {
  const [key, setKey] = useState(tried);
  function submit(ev: FormEvent) {
    ev.preventDefault();
    if (key.trim()) onSignIn(key.trim());
  }
  return (
    <form className="signin" onSubmit={submit} data-testid="sign-in">
      <h2>Sign in</h2>
      <p className="muted">
        Open the sign-in link the server printed when it first started, or paste an API key (create one with{' '}
        <code>npm run keys -- create &lt;name&gt;</code>).
      </p>
      <label>
        API key{' '}
        <input
          type="password"
          autoComplete="off"
          value={key}
          onChange={(ev) => setKey(ev.currentTarget.value)}
          data-testid="api-key-input"
        />
      </label>{' '}
      <button type="submit" className="primary">
        Sign in
      </button>
      {error && (
        <div className="error-box" role="alert" data-testid="sign-in-error">
          {error}
        </div>
      )}
    </form>
  );
}
