// html is htm bound to Preact: JSX-like templates without a build step.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

// fmtTime renders an ISO time in the viewer's locale, compactly.
export const fmtTime = (t) => (t ? new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—');

// fmtNum renders an integer with grouping.
export const fmtNum = (n) => (n == null ? '—' : Number(n).toLocaleString());
