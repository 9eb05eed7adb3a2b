package threadstest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Meta publishes no machine-readable specification of the Threads API
// (facebook-business-sdk-codegen covers the Facebook Graph API only). The
// documented facts the fake checks are written here, in one place, each
// with the page it comes from (all under
// https://developers.facebook.com/docs/threads/).
const (
	docPosts       = "posts"                         // containers, publishing, limits, topic tags, links
	docReference   = "reference/publishing"          // POST /{user-id}/threads parameters
	docSpoilers    = "create-posts/spoilers"         // text_entities, is_spoiler_media
	docAlt         = "posts/accessibility"           // alt_text: images and videos only
	docTrouble     = "troubleshooting"               // container status, error_message
	docOverview    = "overview"                      // 250 posts, 1,000 replies a day
	docDelete      = "posts/delete-posts"            // DELETE, threads_delete, 100 a day
	docInsights    = "insights"                      // media insights metrics
	docReplies     = "retrieve-and-manage-replies"   // replies, threads_read_replies
	docProfiles    = "threads-profiles"              // GET /me?fields=id,username
	docMedia       = "threads-media"                 // media fields
	docTextAttach  = "create-posts/text-attachments" // at most 5 links in a post
	docGetStarted  = "get-started"                   // permissions
	docLongLived   = "get-started/long-lived-tokens" // th_exchange_token, th_refresh_token
	docErrorShapes = "../graph-api/guides/error-handling"
)

// Documented limits.
const (
	// MaxText is a post's text limit; emojis count as their UTF-8 bytes
	// (docPosts, Limitations).
	MaxText = 500
	// MaxImage is a picture's size limit (docPosts, Media specifications:
	// 8 MB, JPEG or PNG).
	MaxImage = 8 << 20
	// MaxTopicTag bounds a topic tag: 1 to 50 characters, no periods or
	// ampersands (docPosts, Topic tags).
	MaxTopicTag = 50
	// MaxSpoilers bounds text_entities (docSpoilers).
	MaxSpoilers = 10
	// MaxLinks bounds the unique links of a post (docTextAttach: from
	// December 22, 2025, THREADS_API__LINK_LIMIT_EXCEEDED).
	MaxLinks = 5
	// PostsPerDay and RepliesPerDay are the publishing limits in a moving
	// 24 hours (docOverview, docReplies); DeletesPerDay is the delete
	// endpoint's (docDelete).
	PostsPerDay   = 250
	RepliesPerDay = 1000
	DeletesPerDay = 100
)

// endpoint is one documented call: its parameters (name → allowed values,
// nil for any), those it requires, and the permissions it needs.
type endpoint struct {
	doc      string
	params   map[string][]string
	required []string
	scopes   []string
}

// endpoints are the calls the fake answers, by "METHOD kind/edge", kind
// being user, container, media or me.
var endpoints = map[string]endpoint{
	"POST user/threads": {doc: docReference, params: map[string][]string{
		"media_type": {"TEXT", "IMAGE", "VIDEO", "CAROUSEL"}, "text": nil, "image_url": nil, "video_url": nil,
		"is_carousel_item": {"true", "false"}, "children": nil, "alt_text": nil, "link_attachment": nil,
		"reply_to_id": nil, "reply_control": {"everyone", "accounts_you_follow", "mentioned_only", "parent_post_author_only", "followers_only"},
		"topic_tag": nil, "text_entities": nil, "is_spoiler_media": {"true", "false"}, "quote_post_id": nil,
		"allowlisted_country_codes": nil, "location_id": nil, "auto_publish_text": {"true", "false"},
	}, required: []string{"media_type"}, scopes: []string{"threads_basic", "threads_content_publish"}},
	"GET container/": {doc: docTrouble, params: map[string][]string{"fields": nil}, scopes: []string{"threads_basic"}},
	"POST user/threads_publish": {doc: docPosts, params: map[string][]string{"creation_id": nil},
		required: []string{"creation_id"}, scopes: []string{"threads_basic", "threads_content_publish"}},
	"GET user/threads": {doc: docMedia, params: map[string][]string{"fields": nil, "limit": nil, "since": nil, "until": nil, "before": nil, "after": nil},
		scopes: []string{"threads_basic"}},
	"GET media/":                        {doc: docMedia, params: map[string][]string{"fields": nil}, scopes: []string{"threads_basic"}},
	"GET media/replies":                 {doc: docReplies, params: map[string][]string{"fields": nil, "reverse": {"true", "false"}}, scopes: []string{"threads_basic", "threads_read_replies"}},
	"GET media/insights":                {doc: docInsights, params: map[string][]string{"metric": nil}, required: []string{"metric"}, scopes: []string{"threads_basic", "threads_manage_insights"}},
	"DELETE media/":                     {doc: docDelete, params: map[string][]string{}, scopes: []string{"threads_basic", "threads_delete"}},
	"GET user/threads_publishing_limit": {doc: docOverview, params: map[string][]string{"fields": nil}, scopes: []string{"threads_basic", "threads_content_publish"}},
	"GET me/":                           {doc: docProfiles, params: map[string][]string{"fields": nil}, scopes: []string{"threads_basic"}},
}

// fields are the documented fields of what a GET reads (docMedia,
// docTrouble, docProfiles).
var fields = map[string][]string{
	"container": {"id", "status", "error_message"},
	"media": {"id", "media_product_type", "media_type", "media_url", "permalink", "owner", "username", "text", "timestamp",
		"shortcode", "thumbnail_url", "children", "is_quote_post", "quoted_post", "reposted_post", "alt_text", "link_attachment_url",
		"gif_url", "has_replies", "is_reply", "root_post", "replied_to", "hide_status", "reply_audience", "topic_tag"},
	"me":    {"id", "username", "name", "threads_profile_picture_url", "threads_biography", "is_verified"},
	"quota": {"quota_usage", "config", "reply_quota_usage", "reply_config"},
}

// metrics are the documented media insights (docInsights).
var metrics = []string{"views", "likes", "replies", "reposts", "quotes", "shares"}

// check reports what is wrong with a call by the documented facts: the
// call itself, its parameters and their values, the fields it asks for.
func check(key string, params map[string]string) []string {
	ep, ok := endpoints[key]
	if !ok {
		return []string{key + " is not a documented Threads API call"}
	}
	var bad []string
	for _, r := range ep.required {
		if _, ok := params[r]; !ok {
			bad = append(bad, fmt.Sprintf("%s: required parameter %s missing (%s)", key, r, ep.doc))
		}
	}
	for name, v := range params {
		allowed, ok := ep.params[name]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s: parameter %q is not documented (%s)", key, name, ep.doc))
		case name == "fields":
			kind, edge, _ := strings.Cut(strings.TrimPrefix(key, "GET "), "/")
			switch {
			case edge == "threads_publishing_limit":
				kind = "quota"
			case kind == "user":
				kind = "media"
			}
			for _, f := range strings.Split(v, ",") {
				if !contains(fields[kind], f) {
					bad = append(bad, fmt.Sprintf("%s: field %q is not a documented field of a %s", key, f, kind))
				}
			}
		case name == "metric":
			for _, m := range strings.Split(v, ",") {
				if !contains(metrics, m) {
					bad = append(bad, fmt.Sprintf("%s: metric %q is not documented (%s)", key, m, docInsights))
				}
			}
		case allowed != nil && !contains(allowed, v):
			bad = append(bad, fmt.Sprintf("%s: %s=%q is not one of %v (%s)", key, name, v, allowed, ep.doc))
		}
	}
	return bad
}

// checkContainer reports what the documentation says a container may not
// be: the media type's required and forbidden parameters, the text's
// length, the topic tag, the spoilers, the links.
func checkContainer(p map[string]string) []string {
	var bad []string
	typ := p["media_type"]
	switch typ {
	case "TEXT":
		if p["text"] == "" {
			bad = append(bad, "media_type=TEXT requires text ("+docReference+")")
		}
		for _, no := range []string{"image_url", "video_url", "alt_text", "is_spoiler_media"} {
			if _, ok := p[no]; ok {
				bad = append(bad, no+" is for media posts, not media_type=TEXT ("+docAlt+", "+docSpoilers+")")
			}
		}
	case "IMAGE":
		if p["image_url"] == "" {
			bad = append(bad, "media_type=IMAGE requires image_url ("+docReference+")")
		}
		if _, ok := p["link_attachment"]; ok {
			bad = append(bad, "link_attachment is for text-only posts ("+docPosts+", Links)")
		}
	default:
		bad = append(bad, "the fake makes TEXT and IMAGE containers only, not "+typ)
	}
	if n := Count(p["text"]); n > MaxText {
		bad = append(bad, fmt.Sprintf("the text counts %d, over Threads' %d (%s)", n, MaxText, docPosts))
	}
	if t, ok := p["topic_tag"]; ok && (utf8.RuneCountInString(t) < 1 || utf8.RuneCountInString(t) > MaxTopicTag || strings.ContainsAny(t, ".&")) {
		bad = append(bad, fmt.Sprintf("topic_tag %q: 1 to %d characters without periods or ampersands (%s)", t, MaxTopicTag, docPosts))
	}
	if v, ok := p["text_entities"]; ok {
		bad = append(bad, checkSpoilers(v, p["text"])...)
	}
	if u, ok := p["link_attachment"]; ok {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") {
			bad = append(bad, fmt.Sprintf("link_attachment %q is not a URL", u))
		}
	}
	if n := countLinks(p["text"], p["link_attachment"]); n > MaxLinks {
		bad = append(bad, fmt.Sprintf("THREADS_API__LINK_LIMIT_EXCEEDED: %d links, at most %d (%s)", n, MaxLinks, docTextAttach))
	}
	return bad
}

func checkSpoilers(v, text string) []string {
	var ents []struct {
		Type   string `json:"entity_type"`
		Offset *int   `json:"offset"`
		Length *int   `json:"length"`
	}
	if err := json.Unmarshal([]byte(v), &ents); err != nil {
		return []string{fmt.Sprintf("text_entities is not a JSON list: %v (%s)", err, docSpoilers)}
	}
	if len(ents) > MaxSpoilers {
		return []string{fmt.Sprintf("%d text spoilers, at most %d (%s)", len(ents), MaxSpoilers, docSpoilers)}
	}
	units := utf16Len(text)
	var bad []string
	for _, e := range ents {
		switch {
		case e.Type != "SPOILER" && e.Type != "spoiler":
			bad = append(bad, fmt.Sprintf("entity_type %q is not SPOILER (%s)", e.Type, docSpoilers))
		case e.Offset == nil || e.Length == nil || *e.Offset < 0 || *e.Length < 1:
			bad = append(bad, "a text spoiler needs an offset from 0 and a length from 1 ("+docSpoilers+")")
		case *e.Offset+*e.Length > units:
			bad = append(bad, fmt.Sprintf("a text spoiler (%d+%d) runs past the text's end (%d)", *e.Offset, *e.Length, units))
		}
	}
	return bad
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
