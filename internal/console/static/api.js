// The GraphQL client: every request carries the API key from sessionStorage (never a URL).
const KEY = 'cairn.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

export class GraphQLError extends Error {
  constructor(errors, status) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
    this.status = status;
  }
  get code() { return this.errors[0]?.extensions?.code; }
}

// gql posts one operation; signal cancels it (AbortController). An HTTP 401 signs out.
export async function gql(query, variables = {}, { signal, key } = {}) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + (key ?? session.key()) },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  let body;
  try { body = await res.json(); } catch { throw new Error(`HTTP ${res.status}`); }
  if (res.status === 401 && !key) {
    session.clear();
    window.dispatchEvent(new Event('cairn:signout'));
  }
  if (body.errors?.length) throw new GraphQLError(body.errors, res.status);
  return body.data;
}

// isAbort tells a cancelled request from a failure.
export const isAbort = (e) => e?.name === 'AbortError';
