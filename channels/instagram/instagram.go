// Package instagram provides the Instagram channel: a professional account
// linked to the campaign's Facebook Page, posted to through the shared
// Graph API client (channels/graphapi) with the Page's token. A pure
// formatter turns a post into one photo post (a caption within Instagram's
// 2,200 characters and 30 hashtags, the link written out, since Instagram
// links nothing in a caption), and a sender publishes it in Instagram's
// two steps: a media container (POST /{ig-user-id}/media with image_url,
// caption and alt_text), a bounded wait until the container is FINISHED,
// then POST /{ig-user-id}/media_publish.
//
// Instagram posts nothing without a picture and takes none by upload: it
// fetches image_url itself. Crier serves the post's picture, or a title
// card it draws for a post without one (titlecard), under http.public_url
// (channels.PublicImages); with cards: false such a post is refused with
// a note instead.
//
// The Graph API takes no idempotency key. The container's id is the
// nearest thing: it is recorded before publishing, so a later attempt
// asks the container what became of it (PUBLISHED, FINISHED, EXPIRED)
// instead of making another; a send whose answer was lost reads back the
// account's recent media for its caption, and when it cannot tell it
// waits for an organiser (channels.Unverifiable).
package instagram

// Name is the channel's type in config, overrides and payloads.
const Name = "instagram"

// Instagram's documented limits.
const (
	// maxCaption is a caption's limit in characters.
	maxCaption = 2200
	// maxHashtags is how many hashtags a caption may hold.
	maxHashtags = 30
	// maxAlt is the longest alt_text Instagram takes (the field Meta
	// added to image posts in March 2025).
	maxAlt = 1000
	// maxImage is the largest picture Instagram fetches (8 MB).
	maxImage = 8 << 20
	// recentMedia is how many of the account's newest posts a send whose
	// answer was lost reads back to find its own.
	recentMedia = 25
)

// Post is a payload body: one photo post as the sender makes it.
type Post struct {
	// Caption is the caption as sent, the link written out in it.
	Caption string `json:"caption"`
	// Image is the picture Instagram fetches.
	Image Image `json:"image"`
}

// ChannelType makes Post a channels.Body.
func (Post) ChannelType() string { return Name }

// Image is the post's picture: its local file or content URL, or the
// title card Crier draws; Alt is sent as alt_text.
type Image struct {
	File string `json:"file,omitempty"`
	URL  string `json:"url,omitempty"`
	// Card, when set, is a title card drawn when the post is sent.
	Card *Card  `json:"title_card,omitempty"`
	Alt  string `json:"alt_text,omitempty"`
	// Fallback is the title card sent, with its own alt text, when the
	// post's picture cannot be had (too big, gone); nil with cards off.
	Fallback *Card `json:"fallback_title_card,omitempty"`
}

// Card is what a title card shows: the campaign's name and colours and
// the post's title.
type Card struct {
	Campaign   string `json:"campaign"`
	Title      string `json:"title"`
	Background string `json:"background,omitempty"`
	Text       string `json:"text,omitempty"`
	Accent     string `json:"accent,omitempty"`
}
