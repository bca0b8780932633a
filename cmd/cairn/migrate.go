package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/migrate"
)

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (Cairn's and River's); a second run is a no-op",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := open(cmd, false)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(cmd.Context())) //nolint:errcheck
			res, err := migrate.Apply(cmd.Context(), a.DB)
			if err != nil {
				return err
			}
			if len(res.Applied) == 0 && len(res.RiverApplied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied %d Cairn migration(s) %v and %d River migration(s) %v\n",
				len(res.Applied), res.Applied, len(res.RiverApplied), res.RiverApplied)
			return nil
		},
	}
}
