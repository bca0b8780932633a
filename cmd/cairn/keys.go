package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/cairn-cdp/cairn/internal/auth"
)

// cliPrincipal is who acts for audit events written by CLI commands.
var cliPrincipal = &auth.Principal{Name: "cli", Scopes: []auth.Scope{auth.ScopeAdmin}}

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage API keys"}

	var name, scopes string
	create := &cobra.Command{
		Use:   "create --name NAME --scopes read,write",
		Short: "Create an API key; its secret is printed alone on the last line, once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scopeList, err := auth.ParseScopes(scopes)
			if err != nil {
				return err
			}
			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(cmd.Context())) //nolint:errcheck
			ctx := auth.WithPrincipal(cmd.Context(), cliPrincipal)
			created, err := auth.NewKeys(a.DB, a.Log).Create(ctx, name, scopeList)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created API key %s (%s) with scopes %s\n", created.Key.ID, created.Key.Name, strings.Join(created.Key.Scopes, ","))
			fmt.Fprintln(out, "the secret is shown once; store it now:")
			fmt.Fprintln(out, created.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key (required)")
	create.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes: ingest, read, write, privacy, admin (required)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("scopes")

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(cmd.Context())) //nolint:errcheck
			all, err := auth.NewKeys(a.DB, a.Log).List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tLAST USED\tREVOKED")
			for _, k := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, strings.Join(k.Scopes, ","),
					k.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uuid.Parse(args[0])
			if err != nil {
				return fmt.Errorf("invalid key id %q: expected a UUID (see `cairn keys list`)", args[0])
			}
			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(cmd.Context())) //nolint:errcheck
			ctx := auth.WithPrincipal(cmd.Context(), cliPrincipal)
			k, err := auth.NewKeys(a.DB, a.Log).Revoke(ctx, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked API key %s (%s)\n", k.ID, k.Name)
			return nil
		},
	}
	keys.AddCommand(create, list, revoke)
	return keys
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
