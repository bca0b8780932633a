// GraphiQL for Cairn, from the binary. It uses the API key the console signed in with in this
// tab (sessionStorage); without one it does not fetch the schema and says how to get a key.
(function () {
  var key = sessionStorage.getItem('cairn.apiKey');
  var headers = key ? { Authorization: 'Bearer ' + key } : {};
  var fetcher = GraphiQL.createFetcher({ url: '/graphql', headers: headers });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  var e = React.createElement;
  var props = { fetcher: fetcher, defaultEditorToolsVisibility: !key };
  if (!key) {
    props.schema = null; // no introspection without a key (it would be refused)
    props.defaultHeaders = '{\n  "Authorization": "Bearer <your API key>"\n}';
  }
  root.render(e(React.Fragment, null,
    key ? null : e('p', { className: 'cairn-note' }, 'Not signed in: ', e('a', { href: '/' }, 'sign in to the console'),
      ' in this tab, or put your API key in the Authorization header below.'),
    e(GraphiQL, props)));
})();
