package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairn-cdp/cairn/internal/campaign/provider"
	"github.com/cairn-cdp/cairn/internal/campaign/provider/providertest"
)

// The engine's view: build a Destination from stored config, send changes, record per contact.
func Example() {
	t := &testing.T{}
	fake := providertest.NewMailchimp(t, nil)
	defer fake.Close()

	dest, err := provider.New(provider.Config{
		Kind: provider.KindMailchimp, BaseURL: fake.URL, APIKey: fake.APIKey,
		ListID: fake.ListID, AudienceName: "Cairn: Winter VIPs",
	}, provider.Options{AllowPrivate: true, CampaignID: "c1", SyncID: "s1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fake.Reject("bad@example.com", "ERROR_GENERIC", "email_address")
	res, err := dest.Upsert(context.Background(), []provider.Contact{
		{Email: "ann@example.com", Fields: map[string]string{"FNAME": "Ann"}},
		{Email: "bad@example.com"},
	})
	// With err == nil every contact is confirmed or failed; with err != nil only these are known.
	fmt.Println(err, res.Confirmed)
	for _, f := range res.Failed {
		fmt.Println(f.Email, f.Code, f.Field)
	}
	// Output:
	// <nil> [ann@example.com]
	// bad@example.com ERROR_GENERIC email_address
}
