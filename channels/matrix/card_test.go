package matrix_test

import (
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/post"
)

// The console draws the messages as Element does: formatted text, the
// spoiler blurred with its reason, the picture with its alt text.
func TestPreviewCard(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, "  matrix: {enabled: true}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := insts[0].Settings.Formatter(channels.Campaign{})
	pl, err := f.Format(post.Post{ID: "p", Title: "Vigil", Body: "Bring **a candle**.", ContentWarning: "grief",
		Image: &post.Image{URL: "https://camaca.example/p.png", Alt: "Candles"}})
	if err != nil {
		t.Fatal(err)
	}
	card := insts[0].PreviewCard(pl)
	if len(card.Messages) != 2 {
		t.Fatalf("%d messages", len(card.Messages))
	}
	text, img := card.Messages[0], card.Messages[1]
	if text.Style != channels.StyleChat || text.Limit != matrix.MaxHTMLBytes || text.Count == 0 {
		t.Errorf("text message %+v", text)
	}
	if !hasSpan(text.Text, channels.Spoiler) || !hasSpan(text.Text, channels.Bold) {
		t.Errorf("the text has no spoiler or bold span: %+v", text.Text)
	}
	if len(img.Images) != 1 || img.Images[0].Alt != "Candles" || img.Images[0].URL != "https://camaca.example/p.png" {
		t.Errorf("image message %+v", img)
	}
}

func hasSpan(spans []channels.Span, st channels.SpanStyle) bool {
	for _, s := range spans {
		if s.Style == st || hasSpan(s.Spans, st) {
			return true
		}
	}
	return false
}
