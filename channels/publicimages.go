package channels

import (
	"context"
	"time"
)

// PublicImages serves pictures at public addresses, for the networks that
// fetch a post's picture themselves from a URL instead of taking an upload
// (Instagram, Threads). Crier serves them under http.public_url, so every
// replica can answer the network's request.
type PublicImages interface {
	// Check says, in an organiser's words, why pictures cannot be served
	// from here (http.public_url is not a public https address), and is
	// nil when they can. Channels call it when they connect.
	Check() error
	// Publish stores a picture and returns the https address it is served
	// at for at least keep. A Check failure is returned as a Permanent
	// error.
	Publish(ctx context.Context, data []byte, contentType string, keep time.Duration) (string, error)
}
