// Package feed provides the feed post source: it fetches RSS 2.0, Atom and
// JSON Feed documents (conditionally, from the web or a local file) and turns
// their items into posts, with the items' HTML sanitised and converted to
// Markdown and their relative links made absolute.
package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"

	"github.com/crierhq/crier/post"
)

// Kind is the post.Source.Kind of feed items.
const Kind = "feed"

// SummaryMax is the longest summary, in characters, taken from an item.
const SummaryMax = 300

// titleMax is the longest title made up from an untitled item's text.
const titleMax = 80

// Conditional holds the validators of the last successful fetch, sent back
// as If-None-Match and If-Modified-Since.
type Conditional struct{ ETag, LastModified string }

// Item is one feed entry turned into a post.
type Item struct {
	// Key identifies the item within its feed: its GUID, falling back to
	// its link, then to "sha256:" and a hash of its title and content.
	Key string
	// Post has ID "feed:<feed name>:<first 16 hex of sha256(Key)>" and
	// Source{Kind: "feed", Name: feed name, Ref: link, Key, Hash}. Its
	// PublishAt is zero when the item has no date.
	Post post.Post
}

// Result is one fetched (or not modified) feed.
type Result struct {
	// NotModified is set when the server (or the file's time) says nothing
	// changed; nothing was parsed and Items is empty.
	NotModified bool
	// Conditional is what to send next time.
	Conditional Conditional
	Title       string
	// Items are newest first; items without a date follow the dated ones,
	// in document order.
	Items []Item
	// Warnings describe items that were dropped or changed (a repeated
	// GUID, a link that is not a web address).
	Warnings []string
}

// ItemID is the post ID of the item with the given key in the named feed.
func ItemID(feedName, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "feed:" + feedName + ":" + hex.EncodeToString(sum[:])[:16]
}

// Parse converts a feed document in any of the three formats. baseURL (the
// address it was fetched from; may be empty) resolves relative links and
// images when neither the item's link nor the feed's link is absolute.
// Errors name the feed and say what was wrong.
func Parse(feedName string, r io.Reader, baseURL string) (Result, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Result{}, fmt.Errorf("reading feed %q: %w", feedName, err)
	}
	res, err := parse(feedName, data, baseURL)
	if err != nil {
		return Result{}, fmt.Errorf("feed %q: %w", feedName, err)
	}
	return res, nil
}

func parse(feedName string, data []byte, baseURL string) (res Result, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Result{}, errors.New("the document is empty")
	}
	doc, err := parseDocument(data)
	if err != nil {
		return Result{}, err
	}

	fetchBase := absoluteBase(baseURL, nil)
	feedBase := absoluteBase(doc.Link, fetchBase)
	if feedBase == nil {
		feedBase = fetchBase
	}
	res.Title = plainText(doc.Title)
	example := isExample(doc)
	conv := newHTMLConverter()
	firstAt := map[string]int{}
	for i, it := range doc.Items {
		if it == nil {
			continue
		}
		item, warns, err := convertItem(conv, feedName, doc, it, feedBase)
		if err != nil {
			return Result{}, fmt.Errorf("item %d: %w", i+1, err)
		}
		for _, w := range warns {
			res.Warnings = append(res.Warnings, fmt.Sprintf("item %d: %s", i+1, w))
		}
		if first, dup := firstAt[item.Key]; dup {
			res.Warnings = append(res.Warnings, fmt.Sprintf("item %d repeats the id %q of item %d; kept the first, dropped this one", i+1, item.Key, first))
			continue
		}
		firstAt[item.Key] = i + 1
		item.Post.Example = example
		res.Items = append(res.Items, item)
	}
	// Newest first. Undated items have no place in time: they follow the
	// dated ones in the order the feed gave them.
	slices.SortStableFunc(res.Items, func(a, b Item) int {
		az, bz := a.Post.PublishAt.IsZero(), b.Post.PublishAt.IsZero()
		switch {
		case az && bz:
			return 0
		case az:
			return 1
		case bz:
			return -1
		}
		return b.Post.PublishAt.Compare(a.Post.PublishAt)
	})
	return res, nil
}

// isExample reports whether the document marks itself as a sample shipped
// with Crier (<crier:example>true</crier:example> on the channel, as
// feeds/campaign-site.xml does): its items are then examples whatever the
// config says, so that editing config.yaml cannot send them.
func isExample(doc *gofeed.Feed) bool {
	for _, e := range doc.Extensions["crier"]["example"] {
		if strings.TrimSpace(e.Value) == "true" {
			return true
		}
	}
	return false
}

// parseDocument runs gofeed, turning its errors (and, defensively, any panic
// on hostile input) into one that says what is wrong with the document.
func parseDocument(data []byte) (doc *gofeed.Feed, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("the document could not be read as a feed (parser failure: %v)", r)
		}
	}()
	doc, err = gofeed.NewParser().Parse(bytes.NewReader(data))
	if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		return nil, fmt.Errorf("not an RSS, Atom or JSON feed (it starts %q)", start(data))
	}
	if err != nil {
		return nil, fmt.Errorf("not a valid feed: %w", err)
	}
	if doc.FeedType == "json" && doc.FeedVersion == "" {
		return nil, errors.New(`JSON, but not a JSON Feed (it has no "version")`)
	}
	return doc, nil
}

// start is the beginning of a document, for error messages.
func start(data []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(data[:min(len(data), 200)]), "?"))
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "..."
	}
	return s
}

func absoluteBase(ref string, base *url.URL) *url.URL {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return base
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	return u
}

func convertItem(conv *htmlConverter, feedName string, doc *gofeed.Feed, it *gofeed.Item, feedBase *url.URL) (Item, []string, error) {
	var warns []string
	link := resolve(it.Link, feedBase, false)
	if link == "" && strings.TrimSpace(it.Link) != "" {
		warns = append(warns, fmt.Sprintf("link %q is not a web address; left out", start([]byte(it.Link))))
	}
	if link != "" && !isWeb(link) {
		link = "" // still relative: nothing to resolve it against
	}
	base := absoluteBase(link, nil)
	if base == nil {
		base = feedBase
	}

	content, description := it.Content, it.Description
	if strings.TrimSpace(content) == "" {
		content = description
	}
	body, firstImg, err := conv.markdown(content, base)
	if err != nil {
		return Item{}, warns, err
	}
	summarySrc := description
	if strings.TrimSpace(summarySrc) == "" {
		summarySrc = content
	}
	summary := shorten(plainText(summarySrc), SummaryMax)

	p := post.Post{
		Title:    shorten(plainText(it.Title), 300),
		Summary:  summary,
		Body:     body,
		Link:     link,
		Tags:     tags(it.Categories),
		Image:    itemImage(it, firstImg, conv.inline, base),
		Language: strings.TrimSpace(doc.Language),
	}
	if p.Title == "" {
		p.Title = shorten(summary, titleMax)
	}
	if p.Title == "" {
		p.Title = shorten(plainText(content), titleMax)
	}
	if p.Title == "" {
		p.Title = "Untitled"
	}
	if it.DublinCoreExt != nil && len(it.DublinCoreExt.Language) > 0 && strings.TrimSpace(it.DublinCoreExt.Language[0]) != "" {
		p.Language = strings.TrimSpace(it.DublinCoreExt.Language[0])
	}
	switch {
	case it.PublishedParsed != nil:
		p.PublishAt = it.PublishedParsed.UTC()
	case it.UpdatedParsed != nil:
		p.PublishAt = it.UpdatedParsed.UTC()
	}
	if p.PublishAt.Before(time.Unix(0, 0)) {
		p.PublishAt = time.Time{} // a date before 1970 is a feed bug, not news
	}

	key := strings.TrimSpace(it.GUID)
	if key == "" {
		key = link
	}
	if key == "" {
		sum := sha256.Sum256([]byte(it.Title + "\x00" + content))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	p.ID = ItemID(feedName, key)
	// The hash covers only what readers see, so a new GUID or date on the
	// same content hashes the same and is not news.
	p.Source = post.Source{Kind: Kind, Name: feedName, Ref: link, Key: key}
	p.Source.Hash = p.ContentHash()
	return Item{Key: key, Post: p}, warns, nil
}

func tags(categories []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range categories {
		c = strings.TrimSpace(strings.TrimPrefix(plainText(c), "#"))
		if c == "" || seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		out = append(out, c)
	}
	return out
}

// itemImage picks the item's picture: an image enclosure, else the one the
// feed names (media, iTunes, JSON Feed image), else the first <img> of the
// content that looks like a picture. Alt text comes from the content's <img>
// of the same address. inline holds the content's <img> addresses: gofeed
// offers the first of them as the item's image, and it is only taken when
// it passed the content's test (it is then first).
func itemImage(it *gofeed.Item, first *image, inline map[string]bool, base *url.URL) *post.Image {
	var src string
	for _, e := range it.Enclosures {
		if e != nil && strings.HasPrefix(strings.ToLower(e.Type), "image/") {
			if src = resolve(e.URL, base, false); src != "" {
				break
			}
		}
	}
	if src == "" && it.Image != nil && !inline[strings.TrimSpace(it.Image.URL)] {
		src = resolve(it.Image.URL, base, false)
	}
	if src == "" && it.ITunesExt != nil {
		src = resolve(it.ITunesExt.Image, base, false)
	}
	if src == "" && first != nil {
		src = first.URL
	}
	if src == "" || !isWeb(src) {
		return nil
	}
	img := &post.Image{URL: src}
	if first != nil && first.URL == src {
		img.Alt = first.Alt
	} else if it.Image != nil && it.Image.URL != "" && resolve(it.Image.URL, base, false) == src {
		img.Alt = plainText(it.Image.Title)
	}
	return img
}

// isWeb reports whether s is an absolute http(s) address.
func isWeb(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
