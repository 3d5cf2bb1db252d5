import type { Me } from '@tabgrid/protocol';

/** Who is signed in, with sign-out (forgets the key in this browser; the key itself stays valid). */
export function AccountBar({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  return (
    <div className="account muted small">
      Signed in as <strong data-testid="signed-in-as">{me.name}</strong>{' '}
      <button type="button" className="link" onClick={onSignOut} data-testid="sign-out">
        Sign out
      </button>
    </div>
  );
}
