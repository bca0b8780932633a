package ingest

import (
	"encoding/json"
	"errors"

	"github.com/cairn-cdp/cairn/internal/ingest/wire"
)

// contextView is what prepare reads of a message's context.
type contextView struct {
	ip          string // ip, when a string
	hasIP       bool
	library     string // library.name
	userAgent   bool   // has a userAgent
	page        bool   // has a page
	deviceID    string // device.id
	externalIDs []any  // externalIds
	traits      map[string]any
	consent     map[string]any
	location    bool // has a location
	dropped     bool // it holds a member configured to be dropped
}

// readContext reads the members of ctx (a JSON object, or nil) that prepare needs, decoding
// only those (the whole context is decoded only when it must change: see storeContext). Keys
// are matched exactly, the last of duplicates winning, as in a decoded map. The members
// configured to be dropped are not read, except for identifiers (device.id, externalIds,
// traits), which are read from the context as sent.
func (p *Pipeline) readContext(ctx []byte) (contextView, error) {
	var v contextView
	if ctx == nil {
		return v, nil
	}
	err := wire.EachMember(ctx, func(key, value []byte) error {
		_, drop := p.dropContext[string(key)]
		v.dropped = v.dropped || drop
		var err error
		switch string(key) {
		case "ip":
			v.ip, v.hasIP = "", false
			if value[0] == '"' {
				v.ip, err = wire.Unquote(value)
				v.hasIP = err == nil
			}
		case "library":
			v.library = ""
			if !drop && value[0] == '{' {
				v.library, err = stringMember(value, "name")
			}
		case "userAgent":
			v.userAgent = !drop
		case "page":
			v.page = !drop
		case "location":
			v.location = true
		case "device":
			v.deviceID = ""
			if value[0] == '{' {
				v.deviceID, err = stringMember(value, "id")
			}
		case "externalIds":
			v.externalIDs = nil
			if value[0] == '[' {
				err = json.Unmarshal(value, &v.externalIDs)
			}
		case "traits":
			v.traits = nil
			if value[0] == '{' {
				err = json.Unmarshal(value, &v.traits)
			}
		case "consent":
			v.consent = nil
			if !drop && value[0] == '{' {
				err = json.Unmarshal(value, &v.consent)
			}
		}
		if err != nil {
			return wire.Invalid("context."+string(key), "cannot be decoded: %s", err)
		}
		return nil
	})
	if errors.Is(err, wire.ErrNotObject) {
		err = wire.Invalid("context", "must be a JSON object")
	}
	return v, err
}

// stringMember returns the string value of obj's member key ("" when absent or not a string).
func stringMember(obj []byte, key string) (string, error) {
	var out string
	err := wire.EachMember(obj, func(k, value []byte) error {
		if string(k) != key {
			return nil
		}
		out = ""
		if value[0] == '"' {
			s, err := wire.Unquote(value)
			if err != nil {
				return err
			}
			out = s
		}
		return nil
	})
	return out, err
}
