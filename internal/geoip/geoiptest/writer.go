// Package geoiptest writes small MaxMind-format databases (MMDB) for tests: an IPv6 search
// tree of 24-bit records (IPv4 networks under ::/96, where readers look them up) and a data
// section, as https://maxmind.github.io/MaxMind-DB/ specifies. Records are maps of strings,
// unsigned integers, float64s, bools, nested maps and slices. Networks must not overlap.
package geoiptest

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"sort"
)

// Network is one network of a test database and its record.
type Network struct {
	Prefix netip.Prefix
	Record map[string]any
}

// Write writes an MMDB of databaseType (e.g. "GeoLite2-Country", "Test-City") holding
// networks to path.
func Write(path, databaseType string, networks []Network) error {
	data, err := Build(databaseType, networks)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Build returns the bytes of the MMDB Write writes.
func Build(databaseType string, networks []Network) ([]byte, error) {
	var section []byte
	type leaf struct {
		bits   []byte // 128 bits, one per byte
		offset int
	}
	var leaves []leaf
	for _, n := range networks {
		p := n.Prefix.Masked()
		if !p.IsValid() {
			return nil, fmt.Errorf("invalid network %v", n.Prefix)
		}
		a, depth := p.Addr(), p.Bits()
		if a.Is4() {
			a, depth = netip.AddrFrom16(a.As16()), depth+96
			b := a.As16() // ::a.b.c.d, not ::ffff:a.b.c.d
			b[10], b[11] = 0, 0
			a = netip.AddrFrom16(b)
		}
		if depth == 0 {
			return nil, fmt.Errorf("network %v: the whole address space is not supported", n.Prefix)
		}
		b := a.As16()
		bits := make([]byte, depth)
		for i := range depth {
			bits[i] = (b[i/8] >> (7 - i%8)) & 1
		}
		off := len(section)
		enc, err := encode(nil, n.Record)
		if err != nil {
			return nil, err
		}
		section = append(section, enc...)
		leaves = append(leaves, leaf{bits: bits, offset: off})
	}

	// The tree: node i's records, each -1 (empty), a node, or a data offset (dataFlag set).
	const dataFlag = 1 << 30
	nodes := [][2]int{{-1, -1}}
	for _, l := range leaves {
		n := 0
		for i, bit := range l.bits {
			if i == len(l.bits)-1 {
				if nodes[n][bit] != -1 {
					return nil, fmt.Errorf("overlapping networks")
				}
				nodes[n][bit] = dataFlag | l.offset
				break
			}
			next := nodes[n][bit]
			switch {
			case next == -1:
				nodes = append(nodes, [2]int{-1, -1})
				next = len(nodes) - 1
				nodes[n][bit] = next
			case next&dataFlag != 0:
				return nil, fmt.Errorf("overlapping networks")
			}
			n = next
		}
	}
	count := len(nodes)
	out := make([]byte, 0, count*6+16+len(section)+256)
	for _, n := range nodes {
		for _, r := range n {
			v := count // empty
			switch {
			case r == -1:
			case r&dataFlag != 0:
				v = count + 16 + r&^dataFlag
			default:
				v = r
			}
			if v >= 1<<24 {
				return nil, fmt.Errorf("database too large for 24-bit records")
			}
			out = append(out, byte(v>>16), byte(v>>8), byte(v))
		}
	}
	out = append(out, make([]byte, 16)...)
	out = append(out, section...)
	out = append(out, "\xAB\xCD\xEFMaxMind.com"...)
	meta, err := encode(nil, map[string]any{
		"node_count": uint32(count), "record_size": uint16(24), "ip_version": uint16(6),
		"database_type": databaseType, "languages": []any{"en"},
		"binary_format_major_version": uint16(2), "binary_format_minor_version": uint16(0),
		"build_epoch": uint64(1_780_000_000), "description": map[string]any{"en": "Cairn test database"},
	})
	if err != nil {
		return nil, err
	}
	return append(out, meta...), nil
}

// encode appends v in the MMDB data format.
func encode(out []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		out = control(out, 2, len(v))
		return append(out, v...), nil
	case float64:
		out = control(out, 3, 8)
		return binary.BigEndian.AppendUint64(out, math.Float64bits(v)), nil
	case uint16:
		return appendUint(out, 5, uint64(v)), nil
	case uint32:
		return appendUint(out, 6, uint64(v)), nil
	case uint64:
		return appendUint(out, 9, v), nil
	case bool:
		n := 0
		if v {
			n = 1
		}
		return control(out, 14, n), nil
	case map[string]any:
		out = control(out, 7, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out, _ = encode(out, k)
			var err error
			if out, err = encode(out, v[k]); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out = control(out, 11, len(v))
		for _, e := range v {
			var err error
			if out, err = encode(out, e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("geoiptest: cannot encode %T", v)
}

func appendUint(out []byte, typ int, v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	i := 0
	for i < 8 && b[i] == 0 {
		i++
	}
	out = control(out, typ, 8-i)
	return append(out, b[i:]...)
}

// control appends the control byte(s) of a value of typ and size.
func control(out []byte, typ, size int) []byte {
	first := byte(0)
	if typ <= 7 {
		first = byte(typ << 5)
	}
	var ext []byte
	switch {
	case size < 29:
		first |= byte(size)
	case size < 29+256:
		first |= 29
		ext = []byte{byte(size - 29)}
	case size < 285+65536:
		first |= 30
		ext = binary.BigEndian.AppendUint16(nil, uint16(size-285))
	default:
		first |= 31
		s := size - 65821
		ext = []byte{byte(s >> 16), byte(s >> 8), byte(s)}
	}
	out = append(out, first)
	if typ > 7 {
		out = append(out, byte(typ-7))
	}
	return append(out, slices.Clone(ext)...)
}
