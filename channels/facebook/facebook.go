// Package facebook provides the Facebook Page channel: a pure formatter
// that turns a post into one Page post (its text and the link, shown as
// Facebook's link card, or a photo with the text as its caption and the
// image's alt text), and a sender that publishes it with a Page access
// token through the shared Graph API client (channels/graphapi).
//
// The Graph API takes no idempotency key. A send whose answer was lost
// reads back the Page's recent posts and looks for its own (the same text
// and link) before trying again; when it cannot read them, it does not
// guess: the delivery waits for an organiser ("unknown: check the Page",
// with It went out / Send again).
package facebook

// Name is the channel's type in config, overrides and payloads.
const Name = "facebook"

// Facebook's documented limits.
const (
	// maxMessage is a Page post's text limit in characters.
	maxMessage = 63206
	// maxPhoto is the largest photo a Page takes by upload (4 MB).
	maxPhoto = 4 << 20
	// recentPosts is how many of the Page's newest posts a send whose
	// answer was lost reads back to find its own.
	recentPosts = 25
)

// Post is a payload body: one Page post as the sender makes it.
type Post struct {
	// Message is the post's text (a photo's caption).
	Message string `json:"message"`
	// Link is a feed post's link, which Facebook shows as a card; a
	// photo post has no card and carries the link in its Message.
	Link string `json:"link,omitempty"`
	// Photo, when set, makes the post a photo post.
	Photo *Photo `json:"photo,omitempty"`
}

// ChannelType makes Post a channels.Body.
func (Post) ChannelType() string { return Name }

// Photo is a photo post's picture: a post's local file or a content URL
// the sender fetches through the guarded client and uploads. Alt is sent
// as alt_text_custom.
type Photo struct {
	File string `json:"file,omitempty"`
	URL  string `json:"url,omitempty"`
	Alt  string `json:"alt,omitempty"`
}
