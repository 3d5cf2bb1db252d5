/** First-run consent: what runs, what the volunteer will see, how to stop. */
export function ConsentPanel() {
  return (
    <section className="consent" aria-labelledby="consent-title" data-testid="consent-panel">
      <h2 id="consent-title">Before you start</h2>
      <ul>
        <li>
          <strong>What runs:</strong> this tab uses your computer’s processor to find objects (people, cars,
          dogs…) in photos that other people uploaded. Nothing is installed.
        </li>
        <li>
          <strong>What you will see:</strong> you will see the photos you process, with boxes around what was
          found. Only the boxes and labels are sent back.
        </li>
        <li>
          <strong>How to stop:</strong> press Pause or Stop, or close the tab. You can limit how much of your
          processor it uses below.
        </li>
      </ul>
      <p className="muted small">
        Your choice is remembered on this device, so later visits can start by themselves.
      </p>
    </section>
  );
}
