import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql } from '../api.js';

const JOB = `query($id: ID!) { job(id: $id) { id state attempt errors finalizedAt } }`;
const DONE = ['completed', 'cancelled', 'discarded'];

// JobStatus polls a job every 500 ms until it is finalized, showing its state, then calls
// onDone(job). label names the work (default: Computation).
export function JobStatus({ job: initial, onDone, label = 'Computation' }) {
  const [job, setJob] = useState(initial);
  useEffect(() => {
    let stop = false;
    let timer;
    const poll = async () => {
      try {
        const d = await gql(JOB, { id: initial.id });
        if (stop) return;
        setJob(d.job);
        if (d.job && DONE.includes(d.job.state)) { onDone?.(d.job); return; }
      } catch { /* keep polling: a transient failure should not hide the job */ }
      if (!stop) timer = setTimeout(poll, 500);
    };
    timer = setTimeout(poll, 300);
    return () => { stop = true; clearTimeout(timer); };
  }, [initial.id]);
  if (!job) return null;
  return html`<p class=${'job ' + job.state} id="job-state" role="status">
    ${label}: <strong>${job.state}</strong>${job.attempt > 1 ? ` (attempt ${job.attempt})` : ''}
    ${job.errors?.length > 0 && html`<span class="error"> — ${job.errors[job.errors.length - 1]}</span>`}
  </p>`;
}
