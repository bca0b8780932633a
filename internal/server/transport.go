package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// postJSON is gqlgen's POST transport with a cheaper way to write a successful answer.
// transport.POST writes the response with json.Marshal, which validates and re-compacts the
// whole data document that gqlgen's marshalers have just written (~7% of the server's CPU
// on a page of 50 customers); postJSON writes that document as it is. Anything unusual — a
// client asking for application/graphql-response+json, a body that is not a GraphQL request,
// an operation that does not parse or validate — goes to transport.POST unchanged, which
// answers it exactly as before.
type postJSON struct{ transport.POST }

func (t postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
		t.POST.Do(w, r, exec)
		return
	}
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	fallback := func() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		t.POST.Do(w, r, exec)
	}
	if err != nil {
		fallback()
		return
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // as transport.POST: integers stay exact
	if err := dec.Decode(params); err != nil {
		fallback()
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	ctx := r.Context()
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		fallback()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, responses(ctx))
}

// writeResponse writes resp as json.Marshal would (the same members, in the same order),
// except that data, already JSON, is copied rather than re-validated and re-compacted.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp == nil { // the request ended before an answer (gqlgen's end of stream): as json.Marshal
		_, _ = io.WriteString(w, "null")
		return
	}
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil { // incremental delivery: not on this path
		b, _ := json.Marshal(resp)
		_, _ = w.Write(b)
		return
	}
	var buf bytes.Buffer
	buf.Grow(len(resp.Data) + 64)
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			b = []byte(`[{"message":"internal error"}]`)
		}
		buf.WriteString(`"errors":`)
		buf.Write(b)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		buf.WriteString("null")
	} else {
		buf.Write(resp.Data)
	}
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			buf.WriteString(`,"extensions":`)
			buf.Write(b)
		}
	}
	buf.WriteByte('}')
	_, _ = w.Write(buf.Bytes())
}
