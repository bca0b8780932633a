package main

import (
	"github.com/cairn-cdp/cairn/internal/ingest"
	"github.com/cairn-cdp/cairn/internal/privacy"
)

// collection is what the ingest options collect and drop, for privacySettings.
func collection(o ingest.Options) privacy.Collection {
	purposes := o.ConsentPurposes
	if purposes == nil {
		purposes = ingest.DefaultConsentPurposes
	}
	return privacy.Collection{KeepIP: o.KeepIP, DroppedContext: o.DropContext, ConsentPurposes: purposes}
}
