package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/channels"
)

const newsletterUsage = `Usage: crier newsletter test|archive|hide|unhide|check-bounce ...
  crier newsletter test POST.md --to ADDRESS   send one real copy to an organiser
  crier newsletter check-bounce [--json] MESSAGE.eml
                                               what Crier makes of a mail from the bounce mailbox
  crier newsletter archive [--json]            the public archive, hidden newsletters included
  crier newsletter hide ID                     hide a newsletter from the public archive and its feed
  crier newsletter unhide ID                   show it again
`

func cmdNewsletter(ctx context.Context, app *App, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "archive":
			return newsletterArchive(ctx, app, args[1:])
		case "hide", "unhide":
			return newsletterHide(ctx, app, args[0], args[1:])
		case "check-bounce":
			return cmdCheckBounce(ctx, app, args[1:])
		}
	}
	if len(args) == 0 || args[0] != "test" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(app.Stderr, newsletterUsage)
			return nil
		}
		fmt.Fprint(app.Stderr, newsletterUsage)
		return usageError{"usage: crier newsletter test|archive|hide|unhide|check-bounce ..."}
	}
	fs := newFlagSet(app, "newsletter test", "POST.md --to ADDRESS", `
Sends one real copy of a post's newsletter to ADDRESS (an organiser), through
the configured SMTP server, with "[Test]" before the subject. Nobody on the
list receives anything and nothing is recorded as delivered.`)
	to := fs.String("to", "", "the `address` to send the test copy to")
	// Accept the flag before or after the post file.
	rest := args[1:]
	var file string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if file == "" || *to == "" {
		fs.Usage()
		return usageError{"give one post file and --to ADDRESS"}
	}
	p, err := app.postReader().ParseFile(file)
	if err != nil {
		return err
	}
	var tester channels.TestSender
	for _, inst := range channels.Enabled(app.Instances) {
		if t, ok := inst.Settings.(channels.TestSender); ok {
			tester = t
		}
	}
	if tester == nil {
		return fmt.Errorf("no newsletter channel is enabled in %s", app.ConfigPath)
	}
	if err := tester.SendTest(ctx, app.campaign(), p, *to); err != nil {
		return fmt.Errorf("sending the test copy of %s: %w", file, err)
	}
	fmt.Fprintf(app.Stdout, "Sent a test copy of %q to %s.\n", p.Title, *to)
	return nil
}

func openArchive(ctx context.Context, app *App) (*archive.Store, error) {
	st, err := app.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	return archive.Open(ctx, st.DB())
}

func newsletterArchive(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "newsletter archive", "[--json]", `
Lists the newsletters in the public archive (/archive), newest first,
hidden ones included, with the ID that hide and unhide take.`)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	arch, err := openArchive(ctx, app)
	if err != nil {
		return err
	}
	entries, err := arch.List(ctx, true, 1000)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(app.Stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(entries) == 0 {
		fmt.Fprintln(app.Stdout, "The archive is empty: newsletters appear in it when they are sent for real.")
		return nil
	}
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SENT\tID\tSHOWN\tSUBJECT")
	for _, e := range entries {
		shown := "yes"
		if e.Hidden {
			shown = "hidden"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", app.showTime(e.SentAt), e.ID, shown, e.Subject)
	}
	return tw.Flush()
}

func newsletterHide(ctx context.Context, app *App, verb string, args []string) error {
	fs := newFlagSet(app, "newsletter "+verb, "ID", `
Hides a newsletter from the public archive and its RSS feed (its page then
answers "not found"), or shows it again with unhide. ID is as
`+"`crier newsletter archive`"+` lists it, e.g. post:md:vigil.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"give one newsletter ID (see crier newsletter archive)"}
	}
	arch, err := openArchive(ctx, app)
	if err != nil {
		return err
	}
	id := fs.Arg(0)
	if err := arch.SetHidden(ctx, id, verb == "hide"); err != nil {
		if errors.Is(err, archive.ErrNotFound) {
			return fmt.Errorf("%w (crier newsletter archive lists the IDs)", err)
		}
		return err
	}
	if verb == "hide" {
		fmt.Fprintf(app.Stdout, "Hidden from the public archive and its feed: %s\n", id)
	} else {
		fmt.Fprintf(app.Stdout, "Shown in the public archive again: %s\n", id)
	}
	return nil
}
