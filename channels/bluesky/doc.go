// Package bluesky provides the Bluesky (AT Protocol) channel on a small typed
// XRPC client over net/http: a formatter that composes app.bsky.feed.post
// records within the lexicon's limits (300 graphemes, 3,000 bytes), with
// rich-text facets at exact UTF-8 byte offsets, a link card or the post's
// image, a content warning as a self-label, and optionally a thread; and a
// sender that signs in with an app password, writes each record under a
// record key derived from (post, channel, part) so that a retry can never
// create a second post, and classifies errors for the delivery engine.
package bluesky
