import { useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';

const SCHEDULE = `mutation($id: ID!, $s: CampaignScheduleInput!) { scheduleCampaign(id: $id, schedule: $s) { id } }`;

// scheduleText describes a campaign's schedule in one line.
export function scheduleText(c) {
  if (c.scheduleKind === 'at') return 'once, ' + fmtTime(c.scheduleAt);
  if (c.scheduleKind === 'cron') return `cron ${c.scheduleCron} (${c.scheduleTimezone || 'UTC'})`;
  return 'not scheduled';
}

// localInput renders an ISO time as a datetime-local value in the viewer's zone.
const localInput = (t) => {
  if (!t) return '';
  const d = new Date(t);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

// ScheduleEditor sets when a campaign runs: once at a time, or on a cron in a time zone. The
// server validates (a time ahead, five cron fields, an IANA zone); its errors show here.
export function ScheduleEditor({ campaign: c, onSaved }) {
  const [kind, setKind] = useState(c.scheduleKind || 'at');
  const [at, setAt] = useState(localInput(c.scheduleAt));
  const [cron, setCron] = useState(c.scheduleCron || '');
  const [tz, setTz] = useState(c.scheduleTimezone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (ev) => {
    ev.preventDefault();
    let s;
    if (kind === 'at') {
      const d = new Date(at);
      if (!at || isNaN(d)) { setError('Choose a date and time.'); return; }
      s = { at: d.toISOString() };
    } else {
      if (!cron.trim()) { setError('Enter a cron expression (five fields, e.g. 0 9 * * 1).'); return; }
      s = { cron: cron.trim(), timeZone: tz.trim() || 'UTC' };
    }
    setBusy(true);
    setError('');
    try {
      await gql(SCHEDULE, { id: c.id, s });
      onSaved?.();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };

  return html`
    <form class="card schedule" id="schedule-form" onSubmit=${submit} aria-labelledby="schedule-h">
      <h2 id="schedule-h">Schedule</h2>
      <p class="muted small">Now: ${scheduleText(c)}</p>
      <div class="row wrap">
        <label class="inline"><input type="radio" name="sched-kind" value="at" checked=${kind === 'at'} onChange=${() => setKind('at')} /> Once</label>
        <label class="inline"><input type="radio" name="sched-kind" value="cron" checked=${kind === 'cron'} onChange=${() => setKind('cron')} /> Repeating (cron)</label>
      </div>
      ${kind === 'at' ? html`
        <div class="row"><label>Run at <input type="datetime-local" id="sched-at" value=${at} onInput=${(e) => setAt(e.target.value)} /></label></div>` : html`
        <div class="row wrap">
          <label>Cron <input id="sched-cron" placeholder="0 9 * * 1" value=${cron} onInput=${(e) => setCron(e.target.value)} /></label>
          <label>Time zone <input id="sched-tz" placeholder="Europe/Paris" value=${tz} onInput=${(e) => setTz(e.target.value)} /></label>
        </div>`}
      ${error && html`<p class="error" role="alert" id="schedule-error">${error}</p>`}
      <button type="submit" disabled=${busy}>Save schedule</button>
    </form>`;
}
