package privacy

import "github.com/lib/pq"

// What the anonymize action keeps of an interaction; everything else is dropped. These lists
// are the whole contract (privacySettings publishes them): a member not listed never reaches
// anonymous_interactions.
var (
	// AnonymizedColumns are the interaction columns kept; occurred_at is truncated to the hour.
	// Not kept: id, customer_id, message_id, received_at.
	AnonymizedColumns = []string{"kind", "event", "occurred_at", "revenue", "source", "channel"}
	// AnonymizedProperties are the top-level properties members kept: what was bought and for
	// how much (Segment's e-commerce spec), never who. A member is kept only when its value is
	// a string (≤ maxAnonymizedString bytes), a number or a boolean.
	AnonymizedProperties = []string{
		"revenue", "total", "subtotal", "value", "tax", "shipping", "discount", "currency",
		"category", "product_id", "sku", "quantity", "price",
	}
	// AnonymizedContext are the context members kept, as dotted paths (stored flat under the
	// same dotted keys), on the same value conditions: the SDK, language and coarse platform,
	// the country, and the marketing campaign that brought the visit. Not kept: ip, userAgent,
	// page (URL, referrer, title), device ids, traits, and everything else.
	AnonymizedContext = []string{
		"library.name", "library.version", "locale", "location.country", "os.name",
		"device.type", "app.name", "app.version",
		"campaign.name", "campaign.source", "campaign.medium",
	}
)

// maxAnonymizedString is the longest string value anonymize keeps; longer values are dropped
// (free text is where identifiers hide).
const maxAnonymizedString = 100

// anonymizeArgs are the lists bound to retention-anonymize-batch's $6 and $7.
func anonymizeArgs() (props, ctx pq.StringArray) {
	return pq.StringArray(AnonymizedProperties), pq.StringArray(AnonymizedContext)
}
