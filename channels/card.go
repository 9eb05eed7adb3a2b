package channels

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// PreviewCard is a payload as the console's previews draw it: what the
// channel's readers will see, described by the channel (CardPreviewer) and
// drawn by the console inside its own page and security policy, so the
// console knows no channel by name and decodes no payload.
type PreviewCard struct {
	// Messages are the remote messages in order: a thread's posts, or a
	// chat message.
	Messages []PreviewMessage
	// Mail is set instead when the payload is a mail (the newsletter).
	Mail *PreviewMail
	// Notes are warnings about this rendering, shown with the payload's.
	Notes []string
	// WholePost is true when the channel carries the post's whole text
	// (the newsletter): a post without a link costs its readers nothing.
	WholePost bool
}

// Message styles: how the console frames a message.
const (
	// StylePost is a social network's post: plain text kept as written,
	// its pictures with their alt text shown, its count against the limit.
	StylePost = "post"
	// StyleChat is a chat message as Discord shows it: formatted text, an
	// embed, pictures behind a spoiler blurred until clicked.
	StyleChat = "chat"
)

// PreviewMessage is one remote message (a toot, a Bluesky post, a Discord
// message).
type PreviewMessage struct {
	// Style is StylePost or StyleChat.
	Style string
	// ContentWarning is shown before the text (Mastodon's CW).
	ContentWarning string
	// Text is the message's text as its readers see it.
	Text []Span
	// Embed is a card under the text (Discord's embed).
	Embed *PreviewEmbed
	// Images are the pictures the message carries (uploads, attachments).
	Images []PreviewImage
	// Count is the text's length as the network counts it, against Limit;
	// a zero Limit shows no count.
	Count, Limit int
}

// PreviewEmbed is a link card under a message (Discord's embed).
type PreviewEmbed struct {
	Title, URL  string
	Description []Span
	// Colour is the card's edge, as #rrggbb.
	Colour         string
	Author, Footer string
	Fields         []PreviewField
	Image          *PreviewImage
}

// PreviewField is one name and value of an embed.
type PreviewField struct{ Name, Value string }

// PreviewImage is a picture of a message: at URL (http(s), or the
// console's own media), or a local File; the console shows only addresses
// it trusts.
type PreviewImage struct {
	URL, File string
	Alt       string
	// Spoiler hides the picture until the reader clicks it.
	Spoiler bool
}

// PreviewMail is a mail: its subject and preheader, and the HTML the
// console shows in sandboxed frames at phone and desktop widths.
type PreviewMail struct {
	Subject, Preheader, HTML string
}

// Span is a run of text with the formatting a network shows: plain text is
// one Span with only Text; a styled span wraps its Spans.
type Span struct {
	Style SpanStyle
	// Text is the span's text when it has no Spans (and a code block's).
	Text string
	// URL is a link's address.
	URL string
	// Level is a heading's level, 1 to 3.
	Level int
	Spans []Span
}

// SpanStyle is how a span shows.
type SpanStyle string

// The styles of a span; "" is plain text.
const (
	Bold      SpanStyle = "bold"
	Italic    SpanStyle = "italic"
	Underline SpanStyle = "underline"
	Strike    SpanStyle = "strike"
	Code      SpanStyle = "code"       // inline code: Text, shown as it is
	CodeBlock SpanStyle = "code-block" // a fenced block: Text, shown as it is
	Quote     SpanStyle = "quote"      // a quoted line
	Heading   SpanStyle = "heading"    // a heading line of Level
	Spoiler   SpanStyle = "spoiler"    // hidden until the reader clicks
	Link      SpanStyle = "link"       // a link to URL
	Break     SpanStyle = "break"      // a line break
)

// PlainText is text shown as written, as one span.
func PlainText(s string) []Span { return []Span{{Text: s}} }

// PreviewCard is the instance's card of p: its own (CardPreviewer), or the
// payload's fields as text.
func (i Instance) PreviewCard(p Payload) PreviewCard {
	if c, ok := i.Settings.(CardPreviewer); ok {
		return c.PreviewCard(p)
	}
	return FieldsCard(p)
}

// FieldsCard shows a payload's fields as text, as crier preview does: the
// card of a channel that draws none of its own.
func FieldsCard(p Payload) PreviewCard {
	var b strings.Builder
	PreviewFields(&b, p.Body, "")
	return PreviewCard{Messages: []PreviewMessage{{Style: StylePost, Text: PlainText(strings.TrimRight(b.String(), "\n"))}}}
}

// SendReport is the instance's report of the send of ref (a post's id),
// when its type reports sends (SendReporter) and has one.
func (i Instance) SendReport(ctx context.Context, db *sql.DB, ref string) (SendReport, bool, error) {
	r, ok := i.Provider.(SendReporter)
	if !ok {
		return SendReport{}, false, nil
	}
	reps, err := r.SendReports(ctx, db, ref)
	if err != nil {
		return SendReport{}, false, fmt.Errorf("reading the %s channel's sends: %w", i.Name, err)
	}
	for _, rep := range reps {
		if rep.Ref == ref {
			return rep, true, nil
		}
	}
	return SendReport{}, false, nil
}
