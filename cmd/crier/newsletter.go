package main

import (
	"context"
	"fmt"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// testSender is a channel that can send one test copy to an organiser (the
// newsletter).
type testSender interface {
	SendTest(ctx context.Context, c channels.Campaign, p post.Post, to string) error
}

func cmdNewsletter(ctx context.Context, app *App, args []string) error {
	if len(args) == 0 || args[0] != "test" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintln(app.Stderr, "Usage: crier newsletter test POST.md --to ADDRESS")
			return nil
		}
		return usageError{"usage: crier newsletter test POST.md --to ADDRESS"}
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
	var tester testSender
	for _, inst := range channels.Enabled(app.Instances) {
		if t, ok := inst.Settings.(testSender); ok {
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
