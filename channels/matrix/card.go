package matrix

import (
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/crierhq/crier/channels"
)

// PreviewCard draws the messages as Element shows them: the formatted
// text with its spoilers blurred, the picture with its alt text, the
// thread's replies after the first message.
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	b, err := channels.BodyOf[Body](p)
	if err != nil {
		return channels.FieldsCard(p)
	}
	var card channels.PreviewCard
	for _, m := range b.Messages {
		pm := channels.PreviewMessage{Style: channels.StyleChat, Count: EncodedLen(m.FormattedBody), Limit: MaxHTMLBytes}
		switch {
		case m.Image != nil:
			pm.Images = []channels.PreviewImage{{URL: m.Image.URL, File: m.Image.File, Alt: m.Body}}
			pm.Count, pm.Limit = 0, 0
		case m.FormattedBody != "":
			pm.Text = spans(m.FormattedBody)
		default:
			pm.Text = channels.PlainText(m.Body)
		}
		if m.InThread {
			pm.Text = append([]channels.Span{{Style: channels.Italic, Spans: channels.PlainText("In the thread:")}, {Style: channels.Break}}, pm.Text...)
		}
		card.Messages = append(card.Messages, pm)
	}
	return card
}

// spans turns formatted_body into the spans the console draws.
func spans(h string) []channels.Span {
	nodes, err := xhtml.ParseFragment(strings.NewReader(h), &xhtml.Node{Type: xhtml.ElementNode, DataAtom: atom.Body, Data: "body"})
	if err != nil {
		return channels.PlainText(h)
	}
	var out []channels.Span
	for _, n := range nodes {
		out = append(out, spansOf(n)...)
	}
	return out
}

func spansOf(n *xhtml.Node) []channels.Span {
	if n.Type == xhtml.TextNode {
		return []channels.Span{{Text: n.Data}}
	}
	if n.Type != xhtml.ElementNode {
		return nil
	}
	var kids []channels.Span
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		kids = append(kids, spansOf(c)...)
	}
	wrap := func(st channels.SpanStyle) []channels.Span { return []channels.Span{{Style: st, Spans: kids}} }
	switch n.DataAtom {
	case atom.Strong, atom.B:
		return wrap(channels.Bold)
	case atom.Em, atom.I:
		return wrap(channels.Italic)
	case atom.U:
		return wrap(channels.Underline)
	case atom.Del, atom.S, atom.Strike:
		return wrap(channels.Strike)
	case atom.Code:
		if n.Parent != nil && n.Parent.DataAtom == atom.Pre {
			return kids
		}
		return []channels.Span{{Style: channels.Code, Text: text(n)}}
	case atom.Pre:
		return []channels.Span{{Style: channels.CodeBlock, Text: text(n)}}
	case atom.A:
		return []channels.Span{{Style: channels.Link, URL: attr(n, "href"), Spans: kids}}
	case atom.Span:
		if _, ok := attrOK(n, "data-mx-spoiler"); ok {
			return wrap(channels.Spoiler)
		}
		return kids
	case atom.Blockquote:
		return wrap(channels.Quote)
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		level := min(int(n.Data[1]-'0'), 3)
		return []channels.Span{{Style: channels.Heading, Level: level, Spans: kids}}
	case atom.Br:
		return []channels.Span{{Style: channels.Break}}
	case atom.Li:
		return append(append([]channels.Span{{Text: "• "}}, kids...), channels.Span{Style: channels.Break})
	case atom.P, atom.Div, atom.Tr:
		return append(kids, channels.Span{Style: channels.Break})
	}
	return kids
}

func attrOK(n *xhtml.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}
