package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/cairn-cdp/cairn/internal/app"
)

func TestGraphQLOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		rateEnv, burst, tmout string
		want                  app.GraphQLOptions
		wantErr               string
	}{
		{name: "defaults", want: app.GraphQLOptions{Rate: 50, Burst: 100, Timeout: 15 * time.Second}},
		{name: "per minute", rateEnv: "600/m", burst: "20", tmout: "2m", want: app.GraphQLOptions{Rate: 10, Burst: 20, Timeout: 2 * time.Minute}},
		{name: "off", rateEnv: "off", tmout: "off", want: app.GraphQLOptions{Rate: rate.Inf, Burst: 100, Timeout: -1}},
		{name: "rate without unit", rateEnv: "50", wantErr: "CAIRN_GRAPHQL_RATE"},
		{name: "negative rate", rateEnv: "-1/s", wantErr: "CAIRN_GRAPHQL_RATE"},
		{name: "zero burst", burst: "0", wantErr: "CAIRN_GRAPHQL_BURST"},
		{name: "timeout without unit", tmout: "15", wantErr: "CAIRN_GRAPHQL_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := app.Config{GraphQLRate: tc.rateEnv, GraphQLBurst: tc.burst, GraphQLTimeout: tc.tmout}.GraphQLOptions()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
