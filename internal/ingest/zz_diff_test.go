package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

func oldDecodeBatch(data []byte) (Batch, error) {
	var w wireBatch
	if err := unmarshal(data, &w); err != nil {
		return Batch{}, err
	}
	if w.Batch == nil {
		return Batch{}, invalid("batch", "is required: an array of messages")
	}
	if len(w.Batch) > MaxBatchSize {
		return Batch{}, invalid("batch", "holds %d messages; at most %d are accepted per request", len(w.Batch), MaxBatchSize)
	}
	sentAt, err := parseTime("sentAt", w.SentAt)
	if err != nil {
		return Batch{}, err
	}
	out := Batch{Messages: make([]Message, 0, len(w.Batch)), WriteKey: string(w.WriteKey)}
	for i, raw := range w.Batch {
		prefix := fmt.Sprintf("batch[%d]", i)
		if len(raw) > MaxEventBytes {
			return Batch{}, fmt.Errorf("%w: %s is %d bytes; at most %d are accepted", ErrEventTooLarge, prefix, len(raw), MaxEventBytes)
		}
		var wm wireMessage
		if err := unmarshal(raw, &wm); err != nil {
			return Batch{}, prefixed(prefix, err)
		}
		m, err := wm.message("")
		if err != nil {
			return Batch{}, prefixed(prefix, err)
		}
		m.Context = mergeShallow(m.Context, w.Context)
		m.Integrations = mergeShallow(m.Integrations, w.Integrations)
		if m.SentAt.IsZero() {
			m.SentAt = sentAt
		}
		if err := m.Validate(); err != nil {
			return Batch{}, prefixed(prefix, err)
		}
		if out.WriteKey == "" {
			out.WriteKey = string(wm.WriteKey)
		}
		out.Messages = append(out.Messages, m)
	}
	return out, nil
}


func FuzzDiffBatch(f *testing.F) {
	for _, s := range []string{`{"batch":[{"type":"track","userId":"u","event":"E"}, 1, {"type":"x"}],"context":{"a":1},"sentAt":"2026-01-01T00:00:00Z"}`,
		`{"batch":null}`, `{"batch":{}}`, `{"Batch":[]}`, `{"batch":[{"type":"track","userId":[1]}]}`, `{"context":"x","batch":[]}`, `{"batch":[]} x`, `{"batch":[{"type":"page","userId":"u","context":{"ip":"1.2.3.4"}}],"writeKey":"k"}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","properties":[1]}],"batch":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errA := oldDecodeBatch(data)
		b, errB := DecodeBatch(data)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%s: old %v new %v", data, errA, errB)
		}
		if errA != nil {
			var va, vb *ValidationError
			if errors.As(errA, &va) != errors.As(errB, &vb) || (va != nil && va.Field != vb.Field) || errors.Is(errA, ErrEventTooLarge) != errors.Is(errB, ErrEventTooLarge) {
				t.Fatalf("%s: old %v new %v", data, errA, errB)
			}
			if va != nil && va.Field != "" && va.Message != vb.Message { t.Fatalf("%s: old %v new %v", data, errA, errB) }
			return
		}
		for i := range b.Messages {
			b.Messages[i].raw = rawMembers{}
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: old %+v new %+v", data, a, b)
		}
		_ = json.Valid
		_ = fmt.Sprint
	})
}

func FuzzDiffPrepare(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","userId":"u","event":"E","properties":{"revenue":"12.5","a":[1,{"b":"c"}]},"context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"Analytics":false}}}}`,
		`{"type":"page","userId":"u","name":"Home","category":"C","properties":{"name":"x","y":1},"context":{ "ip" : "2001:db8::1", "page":{"ip":"no"}}}`,
		`{"type":"page","userId":"u","name":"Home","properties":{}}`,
		`{"type":"identify","userId":"u","traits":{"email":"a@b.c","n":1.0},"Context":{"ip":"10.1.2.3","device":{"id":"d"}}}`,
		`{"type":"screen","userId":"u","name":"S\"x","properties":{"k":"\"ip\""},"context":{"ip":"10.1.2.3"}}`,
		`{"type":"track","userId":"u","event":"E","properties":{"a":1},"properties":{"b":2}}`,
		`{"type":"track","userId":"u","event":"E","context":{"ip":"junk"}}`,
	} {
		f.Add([]byte(s))
	}
	p := &Pipeline{purposes: map[string]string{}, dropContext: map[string]struct{}{}}
	p.norm = newTestNormalizer()
	same := func(t *testing.T, what, a, b string) {
		if a == b {
			return
		}
		var x, y any
		if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil || !reflect.DeepEqual(x, y) {
			t.Fatalf("%s differs: raw %s, encoded %s", what, a, b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(m Message) {
			pm, err := p.prepare(&m, time.Now())
			m2 := m
			m2.raw = rawMembers{}
			pm2, err2 := p.prepare(&m2, time.Now())
			if (err == nil) != (err2 == nil) {
				t.Fatalf("%v vs %v", err, err2)
			}
			if err != nil {
				return
			}
			same(t, "properties", pm.properties, pm2.properties)
			same(t, "context", pm.context, pm2.context)
			if !utf8.ValidString(pm.context) || !utf8.ValidString(pm.properties) {
				t.Fatal("invalid utf8")
			}
		}
		if m, err := Decode(data); err == nil {
			check(m)
		}
		if b, err := DecodeBatch(data); err == nil {
			for _, m := range b.Messages {
				check(m)
			}
		}
	})
}
