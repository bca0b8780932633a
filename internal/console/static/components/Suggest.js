import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql, isAbort } from '../api.js';

const QUERIES = {
  trait: `query($p: String) { list: traitKeys(prefix: $p, first: 30) }`,
  event: `query($p: String) { list: eventNames(prefix: $p, first: 30) }`,
};

// Suggest is a text input with suggestions from what the data holds (trait keys, event
// names), fetched as the user types.
export function Suggest({ id, label, kind, value, onInput, placeholder }) {
  const [options, setOptions] = useState([]);
  const [focused, setFocused] = useState(false);
  const ctl = useRef(null);
  useEffect(() => {
    if (!focused) return;
    ctl.current?.abort();
    const c = new AbortController();
    ctl.current = c;
    const t = setTimeout(() => {
      gql(QUERIES[kind], { p: value }, { signal: c.signal }).then((d) => setOptions(d.list)).catch((e) => { if (!isAbort(e)) setOptions([]); });
    }, 150);
    return () => { clearTimeout(t); c.abort(); };
  }, [value, focused]);
  return html`
    <label class="inline">${label}
      <input id=${id} list=${id + '-list'} value=${value} placeholder=${placeholder} autocomplete="off"
        onFocus=${() => setFocused(true)} onBlur=${() => setFocused(false)} onInput=${(e) => onInput(e.target.value)} />
      <datalist id=${id + '-list'}>${options.map((o) => html`<option value=${o} />`)}</datalist>
    </label>`;
}
