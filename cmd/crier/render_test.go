package main

import (
	"context"
	"errors"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// countingFormatter counts the posts it formats.
type countingFormatter struct{ n *int }

func (f countingFormatter) Format(p post.Post) (channels.Payload, error) {
	*f.n++
	return channels.Payload{PostID: p.ID}, nil
}

// TestRenderAllStopsWhenTheReaderLeaves: once the request's (or the
// command's) context is done, no further channel is formatted and the
// reason comes back.
func TestRenderAllStopsWhenTheReaderLeaves(t *testing.T) {
	t.Parallel()
	n := 0
	chans := []channels.Channel{{Name: "a", Formatter: countingFormatter{&n}}, {Name: "b", Formatter: countingFormatter{&n}}}
	p := post.Post{ID: "p", Title: "T"}
	if out, err := renderAll(context.Background(), chans, p); err != nil || len(out) != 2 || n != 2 {
		t.Fatalf("live context: %d renderings, %d formatted, %v", len(out), n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n = 0
	out, err := renderAll(ctx, chans, p)
	if !errors.Is(err, context.Canceled) || len(out) != 0 || n != 0 {
		t.Fatalf("after the reader left: %d renderings, %d formatted, %v", len(out), n, err)
	}
}
