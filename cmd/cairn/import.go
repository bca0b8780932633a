package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/cairn-cdp/cairn/internal/importer"
	"github.com/cairn-cdp/cairn/internal/shell"
)

func init() { extraCommands = append(extraCommands, newImportCmd) }

func newImportCmd() *cobra.Command {
	var (
		opts  importer.Options
		quiet bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import Segment messages from an NDJSON or CSV file (- for stdin)",
		Long: `Import loads Segment Spec messages through the same validation, identity resolution and
storage as the tracking API.

  NDJSON (.ndjson, .jsonl, .json): one message per line, or one {"batch": [...]} object per line.
  CSV (.csv): a header row naming the fields: type, userId, anonymousId, event, messageId,
    timestamp (and name, category, groupId, previousId, channel, sentAt, originalTimestamp),
    plus dotted columns traits.x, properties.x, context.x (context.page.path, …) that build
    nested objects; numeric and true/false cells in those become numbers and booleans.

Messages without a messageId get one derived from their content, so importing a file twice
stores it once. Rejected lines are listed with their line numbers and the exit status is 2.
An interrupted import prints how to resume it with --skip.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if opts.Format == "" {
				if name == "-" {
					opts.Format = importer.FormatNDJSON
				} else {
					f, err := importer.DetectFormat(name)
					if err != nil {
						return err
					}
					opts.Format = f
				}
			}
			// Checked before the file is opened and the database started.
			if err := opts.Validate(); err != nil {
				return err
			}
			ic, err := loadIngestConfig()
			if err != nil {
				return err
			}
			var in io.Reader = cmd.InOrStdin()
			var size int64 = -1
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
					size = st.Size()
				}
				in = f
			}

			a, err := open(cmd, true)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(cmd.Context())) //nolint:errcheck
			ctx := cmd.Context()
			// Imports honour the suppression list too: an erased person's events stay out.
			sup, err := importSuppressions(ctx, a)
			if err != nil {
				return err
			}
			res, pipe, err := openIngest(ctx, a, ic, nil, sup)
			if err != nil {
				return err
			}
			defer res.Close()
			defer pipe.Close() //nolint:errcheck

			stderr := cmd.ErrOrStderr()
			var bar *progressbar.ProgressBar
			if f, ok := stderr.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
				bar = newImportBar(f, size)
				opts.Progress = func(p importer.Progress) {
					bar.Describe(fmt.Sprintf("%d events, %.0f/s", p.Messages, float64(p.Messages)/p.Elapsed.Seconds()))
					if size >= 0 {
						_ = bar.Set64(p.Bytes)
					} else {
						_ = bar.Add(0)
					}
				}
			}
			sum, err := importer.Import(ctx, in, pipe, opts)
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(stderr)
			}
			if sum != nil {
				printImportSummary(cmd.OutOrStdout(), name, sum)
				if sum.Stored > 0 { // ready to query, even if a later record failed
					if verr := vacuumAnalyze(ctx, a.DB, stderr, "interactions", "customers", "identities"); verr != nil && err == nil {
						return verr
					}
				}
			}
			if err != nil {
				if sum != nil {
					done := "no record is committed"
					if sum.Committed > 0 {
						done = fmt.Sprintf("records 1-%d are committed", sum.Committed)
					}
					return fmt.Errorf("%w\n%s; resume with: %s", err, done, resumeCommand(cmd, sum.Committed, name))
				}
				return err
			}
			if sum.RejectedCount > 0 {
				return exitError(2)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "", "ndjson or csv (default: from the file extension; ndjson for stdin)")
	f.IntVar(&opts.Skip, "skip", 0, "skip the first N records (NDJSON lines, CSV data rows) to resume an import")
	f.IntVar(&opts.BatchSize, "batch", 500, "messages per submission")
	f.StringVar(&opts.Source, "source", "import", "recorded as the interactions' source")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func newImportBar(w io.Writer, size int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSpinnerType(14),
	)
}

// resumeCommand is the command line that resumes an import after its first skip records, with
// the flags this run was given (a --format or --source dropped would import differently).
func resumeCommand(cmd *cobra.Command, skip int, name string) string {
	parts := []string{"cairn import"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "skip" {
			parts = append(parts, "--"+f.Name+"="+shell.Quote(f.Value.String()))
		}
	})
	if skip > 0 {
		parts = append(parts, fmt.Sprintf("--skip %d", skip))
	}
	return strings.Join(append(parts, shell.Quote(name)), " ")
}

func printImportSummary(w io.Writer, name string, s *importer.Summary) {
	fmt.Fprintf(w, "imported %s: %d records, %d messages in %s (%.0f events/s)\n",
		name, s.Records, s.Messages, s.Elapsed.Round(time.Millisecond), s.EventsPerSec())
	if s.Skipped > 0 {
		fmt.Fprintf(w, "  skipped     %d\n", s.Skipped)
	}
	fmt.Fprintf(w, "  stored      %d\n", s.Stored)
	fmt.Fprintf(w, "  duplicates  %d\n", s.Duplicates)
	if s.Dropped > 0 {
		fmt.Fprintf(w, "  dropped     %d (analytics consent denied)\n", s.Dropped)
	}
	fmt.Fprintf(w, "  rejected    %d\n", s.RejectedCount)
	for _, r := range s.Rejected {
		fmt.Fprintf(w, "    %s\n", r)
	}
	if more := s.RejectedCount - len(s.Rejected); more > 0 {
		fmt.Fprintf(w, "    … and %d more\n", more)
	}
}
