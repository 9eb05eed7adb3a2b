package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/schedules"
)

// previewPost is one post's rendering on every channel.
type previewPost struct {
	PostID string `json:"post_id"`
	Title  string `json:"title"`
	// When is when the post goes out, in the campaign's time zone.
	When     string                     `json:"when,omitempty"`
	Example  bool                       `json:"example,omitempty"`
	Channels map[string]json.RawMessage `json:"channels"`
	Warnings map[string][]string        `json:"warnings,omitempty"`
	Errors   map[string]string          `json:"errors,omitempty"`

	payloads map[string]channels.Payload
}

func cmdPreview(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "preview", "[--json] [--html FILE] (POST.md | --feed URL|FILE | --digest)", `
Renders what every enabled channel would receive, without sending anything.
--digest shows the newsletter digest the next digest run would send: the
posts published since the last digest.
With --json it prints the exact payloads: for Mastodon the POST /api/v1/statuses
parameter sets in thread order, for Bluesky the app.bsky.feed.post record of
each part with its record key, for Discord the JSON body of
POST /channels/{id}/messages, for email the subject, text and HTML.`)
	asJSON := fs.Bool("json", false, "print the exact payloads as JSON")
	htmlOut := fs.String("html", "", "write the newsletter's HTML to `FILE` (open it in a browser)")
	feedURL := fs.String("feed", "", "preview every item of this feed `URL or file` instead of a post file")
	digest := fs.Bool("digest", false, "preview the next newsletter digest instead of a post")
	if err := checkHTMLFlag(args); err != nil {
		fs.Usage()
		return err
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *digest {
		if *feedURL != "" || len(rest) > 0 {
			fs.Usage()
			return usageError{"--digest takes no post file and no --feed"}
		}
		return app.previewDigest(ctx, *asJSON, *htmlOut)
	}
	var posts []post.Post
	switch {
	case *feedURL != "" && len(rest) == 0:
		fetcher := &feed.Fetcher{Client: app.HTTPClient, UserAgent: "Crier preview"}
		res, err := fetcher.Fetch(ctx, "preview", *feedURL, feed.Conditional{})
		if err != nil {
			return err
		}
		// A configured feed previews with its content warning and tags.
		fc := config.Feed{Name: "preview"}
		for _, f := range app.Config.Sources.Feeds {
			if f.URL == *feedURL || resolveFeedURL(app.Config, f.URL) == *feedURL {
				fc = f
			}
		}
		for _, it := range res.Items {
			posts = append(posts, bot.WithFeedDefaults(it.Post, fc))
		}
	case *feedURL == "" && len(rest) == 1:
		p, err := app.postReader().ParseFile(rest[0])
		if err != nil {
			return err
		}
		posts = append(posts, p)
	default:
		fs.Usage()
		return usageError{"give one post file, or --feed URL|FILE"}
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return err
	}
	var out []previewPost
	imageWarnings := app.checkImages(ctx, posts)
	for i, p := range posts {
		pp := previewPost{PostID: p.ID, Title: p.Title, When: app.when(p), Example: p.Example, Channels: map[string]json.RawMessage{}, Warnings: map[string][]string{}, Errors: map[string]string{}, payloads: map[string]channels.Payload{}}
		if w := imageWarnings[i]; w != "" {
			pp.Warnings["image"] = []string{w}
		}
		rendered, err := renderAll(ctx, chans, p)
		if err != nil {
			return err
		}
		for _, r := range rendered {
			if r.Err != nil {
				pp.Errors[r.Channel] = r.Err.Error()
				continue
			}
			body, err := channels.MarshalIndent(r.Payload.Body)
			if err != nil {
				return fmt.Errorf("encoding %s payload of %s: %w", r.Channel, p.ID, err)
			}
			pp.Channels[r.Channel] = body
			pp.payloads[r.Channel] = r.Payload
			if len(r.Payload.Warnings) > 0 {
				pp.Warnings[r.Channel] = r.Payload.Warnings
			}
			if *htmlOut != "" {
				if err := writeHTMLFile(*htmlOut, r.Payload, len(posts) > 1, p.ID); err != nil {
					return err
				}
			}
		}
		out = append(out, pp)
	}
	if *asJSON {
		var v any = out
		if len(out) == 1 && *feedURL == "" {
			v = out[0]
		}
		b, err := channels.MarshalIndent(v)
		if err != nil {
			return err
		}
		_, err = app.Stdout.Write(b)
		return err
	}
	for _, pp := range out {
		fmt.Fprintf(app.Stdout, "# %s (%s)\n", pp.Title, pp.PostID)
		fmt.Fprintf(app.Stdout, "   when: %s\n", pp.When)
		if pp.Example {
			fmt.Fprintln(app.Stdout, "   example: true (only ever rendered to the outbox, never sent for real)")
		}
		for _, name := range sortedKeys(pp.Channels) {
			fmt.Fprintf(app.Stdout, "\n== %s ==\n", name)
			if inst, ok := app.instance(name); ok {
				inst.Settings.Preview(app.Stdout, pp.payloads[name])
			}
			for _, w := range pp.Warnings[name] {
				fmt.Fprintf(app.Stdout, "   warning: %s\n", w)
			}
		}
		for name, e := range pp.Errors {
			fmt.Fprintf(app.Stdout, "\n== %s ==\n   error: %s\n", name, e)
		}
		for _, w := range pp.Warnings["image"] {
			fmt.Fprintf(app.Stdout, "\nwarning: %s\n", w)
		}
		fmt.Fprintln(app.Stdout)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeHTMLFile(path string, p channels.Payload, many bool, postID string) error {
	for _, f := range p.Files {
		if filepath.Ext(f.Name) != ".html" {
			continue
		}
		target := path
		if many {
			target = strings.TrimSuffix(path, filepath.Ext(path)) + "-" + sanitize(postID) + ".html"
		}
		if err := os.WriteFile(target, f.Data, 0o644); err != nil {
			return fmt.Errorf("writing newsletter HTML: %w", err)
		}
	}
	return nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// checkHTMLFlag catches --html without its file name, before the flag
// package takes the post file for it (and the newsletter would overwrite
// the post).
func checkHTMLFlag(args []string) error {
	for i, a := range args {
		if a == "--" {
			return nil
		}
		if a != "--html" && a != "-html" {
			continue
		}
		if i+1 == len(args) || strings.HasPrefix(args[i+1], "-") || strings.EqualFold(filepath.Ext(args[i+1]), ".md") {
			return usageError{"--html needs the name of the file to write the newsletter to, such as  crier preview --html newsletter.html POST.md"}
		}
	}
	return nil
}

// when says when a post goes out, in the campaign's time zone.
func (a *App) when(p post.Post) string {
	switch {
	case p.Draft:
		return "never while it is a draft"
	case p.PublishAt.IsZero():
		return "as soon as Crier sees it"
	case p.Source.Kind == "feed":
		return "dated " + a.showTime(p.PublishAt)
	default:
		return a.showTime(p.PublishAt)
	}
}

// writeJSON prints v as preview --json does.
func (a *App) writeJSON(v any) error {
	b, err := channels.MarshalIndent(v)
	if err != nil {
		return err
	}
	_, err = a.Stdout.Write(b)
	return err
}

// previewDigest renders the digest the next digest run would send.
func (a *App) previewDigest(ctx context.Context, asJSON bool, htmlOut string) error {
	st, err := a.OpenStore(ctx)
	if err != nil {
		return err
	}
	w, err := bot.PendingDigest(ctx, st, time.Now())
	if err != nil {
		return err
	}
	chans, err := a.offlineChannels()
	if err != nil {
		return err
	}
	// The channel that sends digests (the newsletter), whatever its name.
	var email *channels.Channel
	for i := range chans {
		if _, ok := chans[i].Formatter.(channels.DigestFormatter); ok {
			email = &chans[i]
		}
	}
	window := fmt.Sprintf("posts published from %s to %s", a.showTime(w.Since), a.showTime(w.Until))
	if email == nil {
		return errors.New("the newsletter (channels.email) is not enabled: there is no digest")
	}
	if !asJSON {
		fmt.Fprintf(a.Stdout, "# Newsletter digest: %s\n", window)
		if a.Config.Schedules.Digest == "" {
			fmt.Fprintln(a.Stdout, "   (schedules.digest is empty: no digest is sent; this is what one would look like)")
		} else if s, err := schedules.Parse(schedules.InZone(a.Config.Schedules.Digest, a.Config.Location())); err == nil {
			fmt.Fprintf(a.Stdout, "   next run: %s\n", a.showTime(s.Next(time.Now())))
		}
	}
	posts := bot.DigestPosts(*email, w.Posts)
	// The window, as --json shows it whether or not there is a digest.
	answer := map[string]any{"digest_id": w.ID, "since": w.Since.In(a.Config.Location()), "until": w.Until.In(a.Config.Location()), "posts": len(posts)}
	if len(posts) == 0 {
		message := fmt.Sprintf("No %s: the digest would send nothing.", window)
		if !asJSON {
			fmt.Fprintln(a.Stdout, message)
			return nil
		}
		// With --json the answer is always JSON, for scripts to read.
		answer["message"] = message
		return a.writeJSON(answer)
	}
	payload, err := email.Formatter.(channels.DigestFormatter).FormatDigest(w.ID, posts)
	if err != nil {
		return err
	}
	if htmlOut != "" {
		if err := writeHTMLFile(htmlOut, payload, false, w.ID); err != nil {
			return err
		}
	}
	body, err := channels.MarshalIndent(payload.Body)
	if err != nil {
		return err
	}
	if asJSON {
		answer[email.Name], answer["warnings"] = json.RawMessage(body), payload.Warnings
		return a.writeJSON(answer)
	}
	fmt.Fprintf(a.Stdout, "\n== %s (%d post(s)) ==\n", email.Name, len(posts))
	channels.PreviewFields(a.Stdout, payload.Body, "   ")
	for _, w := range payload.Warnings {
		fmt.Fprintf(a.Stdout, "   warning: %s\n", w)
	}
	return nil
}
