import { useEffect, useState } from 'react';
import { DetectionCanvas } from '../../components/DetectionCanvas';
import { DetectionList, shownDetections } from '../../components/DetectionList';
import { formatMs } from '../../lib/format';
import { choosePoolShape } from '../inference/client';
import { giveConsent, hasConsent } from './consent';
import { ConsentPanel } from './ConsentPanel';
import { ContributionPanel } from './ContributionPanel';
import { ControlsPanel } from './ControlsPanel';
import { DetailsPanel } from './DetailsPanel';
import { friendlyNotice } from './notices';
import { PAUSE_TEXT } from './pauseReason';
import { HOUR_MS, useControls } from './useControls';
import { useTabStatus, type TabState } from './useTabStatus';
import { useVolunteer } from './useVolunteer';
import type { VolunteerSnapshot } from './volunteerController';
import '../../components/a11y.css';
import './volunteer.css';

/** The client's notice in plain words; one-off ones pass after a few seconds. */
function useShownNotice(notice: string | null): string | null {
  const friendly = friendlyNotice(notice);
  const [hidden, setHidden] = useState<string | null>(null);
  useEffect(() => {
    if (!notice || friendly?.clearAfterMs == null) return;
    const timer = setTimeout(() => setHidden(notice), friendly.clearAfterMs);
    return () => clearTimeout(timer);
  }, [notice, friendly?.clearAfterMs]);
  return friendly && hidden !== notice ? friendly.text : null;
}

function plainStatus(s: VolunteerSnapshot, pauseText: string | null): string {
  if (s.status === 'stopped') return pauseText ? `Not running. ${pauseText}` : 'Not running.';
  if (s.status === 'error') return 'Stopped because of a problem (see below).';
  if (s.status === 'connecting') return 'Connecting…';
  if (s.status === 'loading') return 'Getting ready: downloading the detector (a few MB, once)…';
  if (s.status === 'working') return 'Working on a photo.';
  if (pauseText) return pauseText;
  if (s.resting) return 'Taking a short break to stay within your limit.';
  return 'Ready. Waiting for photos to process.';
}

function tabState(s: VolunteerSnapshot, paused: boolean): TabState {
  if (s.status === 'stopped' || s.status === 'error') return 'stopped';
  if (s.status === 'working') return 'working';
  return paused ? 'paused' : 'idle';
}

const pinnedWorkers = (): number | null => {
  const raw = new URLSearchParams(location.search).get('workers');
  const n = raw ? Number.parseInt(raw, 10) : NaN;
  return Number.isFinite(n) && n >= 1 ? n : null;
};

export function VolunteerPage() {
  const { controller, snapshot: s } = useVolunteer();
  const { settings, update, reason, tally } = useControls(controller, s);
  const [consented, setConsented] = useState(hasConsent);
  const pauseText = reason
    ? reason === 'pausedForAnHour' && settings.pausedUntil
      ? `Paused until ${new Date(settings.pausedUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.`
      : PAUSE_TEXT[reason]
    : null;
  useTabStatus(tabState(s, reason !== null));
  const shown = s.current ? shownDetections(s.current.detections) : [];
  const ownerPaused = settings.paused || (settings.pausedUntil ?? 0) > Date.now();

  const notice = useShownNotice(s.notice);

  const start = () => {
    giveConsent();
    setConsented(true);
    update({ running: true });
    controller.start();
  };
  const stop = () => {
    update({ running: false });
    controller.stop();
  };

  return (
    <section className="page volunteer">
      <header className="page__header">
        <h1>Volunteer</h1>
        <p className="muted">
          Lend this browser tab’s spare processor time to find objects in people’s photos.
        </p>
      </header>

      {!consented && <ConsentPanel />}

      <section className="card volunteer__status" aria-labelledby="status-title">
        <h2 id="status-title" className="visually-hidden">
          Status
        </h2>
        <p className={`volunteer__state volunteer__state--${tabState(s, reason !== null)}`} role="status">
          <span data-testid="plain-status">{plainStatus(s, pauseText)}</span>
        </p>
        <div className="toolbar">
          {s.started ? (
            <button type="button" onClick={stop} data-testid="stop-button">
              Stop
            </button>
          ) : (
            <button type="button" className="primary" onClick={start} data-testid="start-button">
              Start volunteering
            </button>
          )}
          {ownerPaused ? (
            <button
              type="button"
              onClick={() => update({ paused: false, pausedUntil: null })}
              data-testid="resume-button"
            >
              Resume
            </button>
          ) : (
            <>
              <button type="button" onClick={() => update({ paused: true })} data-testid="pause-button">
                Pause
              </button>
              <button
                type="button"
                onClick={() => update({ pausedUntil: Date.now() + HOUR_MS })}
                data-testid="pause-hour-button"
              >
                Pause for 1 hour
              </button>
            </>
          )}
        </div>
        {s.error && (
          <div className="error-box" role="alert" data-testid="volunteer-error">
            {s.error}
          </div>
        )}
        {notice && !s.error && (
          <div className="notice" role="status" data-testid="volunteer-notice">
            {notice}
          </div>
        )}
      </section>

      <div className="volunteer__work card">
        <DetectionCanvas
          source={s.current?.url ?? null}
          detections={s.current?.detections ?? []}
          imageWidth={s.current?.width}
          imageHeight={s.current?.height}
          maxWidth={640}
          maxHeight={480}
          className="volunteer__canvas"
          data-testid="volunteer-canvas"
        />
        <div className="volunteer__meta">
          <h2>{s.current ? 'The photo you are working on' : 'No photo yet'}</h2>
          {s.current && (
            <p className="muted small volunteer__name" title={s.current.name}>
              {s.current.name} ·{' '}
              {s.current.running ? 'looking…' : `done in ${formatMs(s.current.inferenceMs)}`}
            </p>
          )}
          <DetectionList detections={shown} />
        </div>
      </div>

      <ContributionPanel tally={tally} credits={s.credits} displayName={s.displayName} />

      <ControlsPanel
        settings={settings}
        update={update}
        autoWorkers={choosePoolShape({}).workers}
        pinnedWorkers={pinnedWorkers()}
      />

      <DetailsPanel s={s} />
    </section>
  );
}
