package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/config"
)

func cmdValidate(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "validate", "", `
Checks the config (unknown keys, bad cron specs, missing secrets for channels
that must send, ...) and every post in the Markdown folder, and reports every
problem at once with its file and line. Warnings (such as an image without alt
text) are shown but do not fail.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, insts, err := app.loadConfig()
	if err != nil {
		var probs config.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(app.Stdout, p.String())
			}
			return fmt.Errorf("%d problem(s) in %s", len(probs), app.ConfigPath)
		}
		return err
	}
	app.Config, app.Instances = cfg, insts
	problems := 0
	dir := cfg.Resolve(cfg.Sources.Markdown.Dir)
	posts, errs := app.postReader().LoadDir(dir)
	badFiles := map[string]bool{}
	for _, e := range errs {
		var fe *markdown.FileError
		if errors.As(e, &fe) {
			badFiles[fe.File] = true
		} else {
			badFiles[dir] = true
		}
		// A file's problems come joined: count each one.
		for _, line := range strings.Split(e.Error(), "\n") {
			fmt.Fprintln(app.Stdout, line)
			problems++
		}
	}
	sendsForReal := app.sendsForReal()
	for _, p := range posts {
		if !p.Draft && !p.PublishAt.IsZero() {
			// The time as Crier reads it: a zone mistake shows here first.
			fmt.Fprintf(app.Stdout, "%s: publish_at is %s\n", p.Source.Ref, app.showTime(p.PublishAt))
		}
		if p.Example && sendsForReal {
			fmt.Fprintf(app.Stdout, "%s: example: true: only ever rendered to the outbox, never sent (leave the line out of your own posts)\n", p.Source.Ref)
		}
	}
	for i, f := range cfg.Sources.Feeds {
		if f.Example && sendsForReal {
			fmt.Fprintf(app.Stdout, "%s: sources.feeds[%d] (%s): example: true: its items are never sent; remove the line once url is your website's feed\n", app.ConfigPath, i, f.Name)
		}
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return err
	}
	// A warning about the config (not the post) comes back for every post:
	// say it once, with how many posts it concerns.
	type warning struct{ channel, text string }
	var order []warning
	files := map[warning][]string{}
	imageWarnings := app.checkImages(ctx, posts)
	for i, p := range posts {
		if w := imageWarnings[i]; w != "" {
			wk := warning{"all channels", w}
			order = append(order, wk)
			files[wk] = append(files[wk], p.Source.Ref)
		}
		rendered, err := renderAll(ctx, chans, p)
		if err != nil {
			return err
		}
		for _, r := range rendered {
			if r.Err != nil {
				fmt.Fprintf(app.Stdout, "%s: %s: %v\n", p.Source.Ref, r.Channel, r.Err)
				problems++
				badFiles[p.Source.Ref] = true
				continue
			}
			for _, text := range r.Payload.Warnings {
				w := warning{r.Channel, text}
				if files[w] == nil {
					order = append(order, w)
				}
				files[w] = append(files[w], p.Source.Ref)
			}
		}
	}
	for _, w := range order {
		refs := files[w]
		also := ""
		if len(refs) > 1 {
			also = fmt.Sprintf(" (and %d more post(s))", len(refs)-1)
		}
		fmt.Fprintf(app.Stdout, "%s: warning: %s: %s%s\n", refs[0], w.channel, w.text, also)
	}
	warnings := len(order)
	if problems > 0 {
		return fmt.Errorf("%d problem(s) found in %d post file(s)", problems, len(badFiles))
	}
	fmt.Fprintf(app.Stdout, "%s is valid; %d post(s) in %s read, %d warning(s)\n", app.ConfigPath, len(posts), dir, warnings)
	return nil
}
