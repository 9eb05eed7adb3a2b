// Package threads provides the Threads channel: a pure formatter that turns
// a post into a reply chain of Threads posts within Threads' 500
// characters (the link as the first post's link attachment, a picture with
// its alt text, the post's first tag as the topic tag, a content warning
// as Threads' own text and media spoilers), and a sender that publishes
// each post the way the Threads API asks: a media container
// (POST /{user-id}/threads), a bounded wait until it is ready, then
// POST /{user-id}/threads_publish, through the shared Graph API client
// (channels/graphapi) at graph.threads.net.
//
// Threads fetches a picture itself from a public https address, so the
// sender serves it through channels.Env.Images. The API takes no
// idempotency key: each published post of the chain is saved in the
// delivery's ledger at once, so a retry continues the chain, and a publish
// whose answer was lost reads the account's recent posts back before
// trying again; when it cannot tell, the delivery waits for an organiser.
package threads

// Name is the channel's type in config, overrides and payloads.
const Name = "threads"

// Threads' documented limits (developers.facebook.com/docs/threads/posts,
// /docs/threads/overview, /docs/threads/posts/delete-posts).
const (
	// MaxText is a post's text limit, counted as Threads does (Count).
	MaxText = 500
	// MaxImage is the largest picture Threads takes (8 MB, "Media
	// specifications").
	MaxImage = 8 << 20
	// maxTopicTag bounds a topic tag, in characters.
	maxTopicTag = 50
	// maxAlt bounds alt text. Meta documents no limit; 1,000 characters
	// is what others report Threads accepts, and more is no help to a
	// listener anyway.
	maxAlt = 1000
	// maxParts bounds a reply chain: a post that needs more has its last
	// part shortened. Each reply counts against Threads' 1,000 replies a
	// day, and each post against its 250 posts a day.
	maxParts = 10
	// recentPosts is how many of the account's newest posts a send whose
	// answer was lost reads back to find its own.
	recentPosts = 25
)

// Chain is a payload body: the posts of a reply chain as the sender
// publishes them, the first the root, each next a reply to the one before.
type Chain []Part

// ChannelType makes Chain a channels.Body.
func (Chain) ChannelType() string { return Name }

// Part is one Threads post of a chain: the parameters of its media
// container.
type Part struct {
	// Text is the post's text (text).
	Text string `json:"text"`
	// Link is the first post's link attachment (link_attachment): Threads
	// shows it as a card below a text post. A post with a picture has no
	// link attachment; its link is in Text.
	Link string `json:"link_attachment,omitempty"`
	// TopicTag is the first post's topic tag (topic_tag).
	TopicTag string `json:"topic_tag,omitempty"`
	// Image makes the first post an IMAGE post.
	Image *Image `json:"image,omitempty"`
	// Spoiler hides Text[from:] behind Threads' text spoiler
	// (text_entities): the text after a content warning's line.
	Spoiler *Spoiler `json:"spoiler,omitempty"`
}

// Image is a post's picture: a post's local file or a content URL the
// sender fetches through the guarded client and serves under
// http.public_url for Threads to fetch (image_url).
type Image struct {
	File string `json:"file,omitempty"`
	URL  string `json:"url,omitempty"`
	// Alt is sent as alt_text.
	Alt string `json:"alt,omitempty"`
	// Spoiler blurs the picture until tapped (is_spoiler_media): the
	// post has a content warning.
	Spoiler bool `json:"spoiler,omitempty"`
}

// Spoiler is a text spoiler: Offset and Length in UTF-16 code units, as
// Meta's APIs count text offsets (text_entities, entity_type SPOILER).
type Spoiler struct {
	Offset int `json:"offset"`
	Length int `json:"length"`
}
