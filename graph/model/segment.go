package model

import "github.com/cairn-cdp/cairn/internal/segment"

// SegmentPreview is segmentPreview's answer: its count and sample fields are resolved from the
// (validated) rule, each only when asked for.
type SegmentPreview struct {
	Rule *segment.Rule
}
