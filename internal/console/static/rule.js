// The builder's rule model: SegmentRuleInput nodes with a stable id each, converted to and from
// the API's shape. A node is {id, kind, ...} with kind one of and, or, not, trait, event, rfm,
// consent, identity, inSegment.
let seq = 0;
const nid = () => 'n' + ++seq;

export const OPS = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'CONTAINS', 'STARTS_WITH', 'IN', 'EXISTS', 'NOT_EXISTS'];
export const COUNT_OPS = ['GTE', 'GT', 'EQ', 'NEQ', 'LT', 'LTE'];
export const OP_LABEL = { EQ: '=', NEQ: '≠', GT: '>', GTE: '≥', LT: '<', LTE: '≤', CONTAINS: 'contains', STARTS_WITH: 'starts with', IN: 'is one of', EXISTS: 'exists', NOT_EXISTS: 'does not exist' };
export const PURPOSES = ['email_marketing', 'sms_marketing', 'analytics', 'personalization'];
export const IDENTITY_TYPES = ['email', 'user_id', 'anonymous_id', 'phone', 'device_id'];
export const RFM_LABELS = ['Champions', 'Loyal', 'Potential Loyalist', 'New', 'Promising', 'Need Attention', 'About To Sleep', 'At Risk', 'Cannot Lose Them', 'Hibernating', 'Lost'];
export const KINDS = { trait: 'Trait', event: 'Event', rfm: 'RFM', consent: 'Consent', identity: 'Identity', inSegment: 'In segment' };

export function newNode(kind) {
  switch (kind) {
    case 'and': case 'or': return { id: nid(), kind, children: [newNode('trait')] };
    case 'not': return { id: nid(), kind, child: newNode('event') };
    case 'trait': return { id: nid(), kind, key: '', op: 'EQ', value: '' };
    case 'event': return { id: nid(), kind, name: '', withinDays: '', countOp: '', countValue: '1', where: [] };
    case 'rfm': return { id: nid(), kind, label: 'Champions', rMin: '', rMax: '', fMin: '', fMax: '', mMin: '', mMax: '' };
    case 'consent': return { id: nid(), kind, purpose: 'email_marketing', granted: true };
    case 'identity': return { id: nid(), kind, type: 'email', exists: true };
    case 'inSegment': return { id: nid(), kind, segment: '' };
  }
  throw new Error('unknown kind ' + kind);
}

// parseValue turns what was typed into a JSON value: numbers, booleans, else text; IN splits
// on commas.
export function parseValue(op, text) {
  if (op === 'EXISTS' || op === 'NOT_EXISTS') return undefined;
  const one = (s) => {
    const t = s.trim();
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    return t;
  };
  if (op === 'IN') return String(text).split(',').map(one).filter((v) => v !== '');
  if (op === 'CONTAINS' || op === 'STARTS_WITH') return String(text);
  return one(String(text));
}

const showValue = (v) => (Array.isArray(v) ? v.join(', ') : v == null ? '' : String(v));
const int = (s) => (s === '' || s == null ? undefined : Number(s));
const range = (min, max) => (int(min) == null && int(max) == null ? undefined : { min: int(min), max: int(max) });

// toInput converts a node to SegmentRuleInput and records, by node id, its API path (as in
// validation errors). problems collects incomplete nodes (id → message) found on the way.
export function toInput(n, path = 'rule', paths = {}, problems = {}) {
  paths[n.id] = path;
  switch (n.kind) {
    case 'and': case 'or':
      return { [n.kind]: n.children.map((c, i) => toInput(c, `${path}.${n.kind}[${i}]`, paths, problems)) };
    case 'not':
      return { not: toInput(n.child, path + '.not', paths, problems) };
    case 'trait': {
      if (!n.key.trim()) problems[n.id] = 'Choose a trait key.';
      const value = parseValue(n.op, n.value);
      return { trait: { key: n.key.trim(), op: n.op, ...(value === undefined ? {} : { value }) } };
    }
    case 'event': {
      if (!n.name.trim()) problems[n.id] = 'Choose an event name.';
      const e = { name: n.name.trim() };
      if (int(n.withinDays) != null) e.withinDays = int(n.withinDays);
      if (n.countOp) e.count = { op: n.countOp, value: int(n.countValue) ?? 0 };
      if (n.where.length) e.where = n.where.map((w) => {
        const value = parseValue(w.op, w.value);
        if (!w.key.trim()) problems[n.id] = 'Every property condition needs a key.';
        return { key: w.key.trim(), op: w.op, ...(value === undefined ? {} : { value }) };
      });
      return { event: e };
    }
    case 'rfm': {
      const r = {};
      if (n.label) r.label = n.label;
      for (const [k, a, b] of [['recencyScore', n.rMin, n.rMax], ['frequencyScore', n.fMin, n.fMax], ['monetaryScore', n.mMin, n.mMax]]) {
        const g = range(a, b);
        if (g) r[k] = g;
      }
      if (!Object.keys(r).length) problems[n.id] = 'Choose a label or a score range.';
      return { rfm: r };
    }
    case 'consent': return { consent: { purpose: n.purpose, granted: n.granted } };
    case 'identity': return { identity: { type: n.type, exists: n.exists } };
    case 'inSegment':
      if (!n.segment) problems[n.id] = 'Choose a segment.';
      return { inSegment: n.segment };
  }
}

// fromInput converts a stored rule (Segment.rule) back to builder nodes.
export function fromInput(r) {
  if (r.and || r.or) {
    const kind = r.and ? 'and' : 'or';
    return { id: nid(), kind, children: r[kind].map(fromInput) };
  }
  if (r.not) return { id: nid(), kind: 'not', child: fromInput(r.not) };
  if (r.trait) return { id: nid(), kind: 'trait', key: r.trait.key, op: r.trait.op, value: showValue(r.trait.value) };
  if (r.event) {
    const e = r.event;
    return {
      id: nid(), kind: 'event', name: e.name, withinDays: e.withinDays ?? '',
      countOp: e.count?.op ?? '', countValue: String(e.count?.value ?? 1),
      where: (e.where || []).map((w) => ({ key: w.key, op: w.op, value: showValue(w.value) })),
    };
  }
  if (r.rfm) {
    const g = (x, k) => x?.[k] ?? '';
    return { id: nid(), kind: 'rfm', label: r.rfm.label ?? '', rMin: g(r.rfm.recencyScore, 'min'), rMax: g(r.rfm.recencyScore, 'max'),
      fMin: g(r.rfm.frequencyScore, 'min'), fMax: g(r.rfm.frequencyScore, 'max'), mMin: g(r.rfm.monetaryScore, 'min'), mMax: g(r.rfm.monetaryScore, 'max') };
  }
  if (r.consent) return { id: nid(), kind: 'consent', ...r.consent };
  if (r.identity) return { id: nid(), kind: 'identity', ...r.identity };
  if (r.inSegment) return { id: nid(), kind: 'inSegment', segment: r.inSegment };
  return newNode('trait');
}

// replaceNode returns tree with the node of id replaced by fn(node) (null removes it).
export function replaceNode(tree, id, fn) {
  if (tree.id === id) return fn(tree);
  if (tree.children) {
    const children = tree.children.map((c) => replaceNode(c, id, fn)).filter(Boolean);
    return { ...tree, children };
  }
  if (tree.child) {
    const child = replaceNode(tree.child, id, fn);
    return child ? { ...tree, child } : tree;
  }
  return tree;
}

// errorPath pulls the node path out of a rule validation error message
// ("invalid segment rule at rule.and[1].event.name: …").
export function errorPath(message) {
  const m = /at (rule[^\s:]*): (.*)$/.exec(message);
  return m ? { path: m[1], message: m[2] } : null;
}

// nodeForPath finds the node whose path is the longest prefix of an error's path.
export function nodeForPath(paths, errPath) {
  let best = null;
  for (const [id, p] of Object.entries(paths)) {
    if ((errPath === p || errPath.startsWith(p + '.')) && (!best || p.length > paths[best].length)) best = id;
  }
  return best;
}
