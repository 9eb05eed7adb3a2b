// Package threadstest is a fake Threads API for the Threads channel's
// tests. It checks every request's path, method, parameters and fields
// against the documented facts in spec.go (Meta publishes no
// machine-readable specification of the Threads API), refusing unknown
// parameters, too-long text and media types with parameters they do not
// take. Like Threads, it fetches a container's image_url itself and checks
// that it is a picture; a container takes a configurable number of status
// reads to be ready; it answers errors in the Graph API's documented shape
// ({"error":{"message","type","code","error_subcode","fbtrace_id"}}) and
// refuses publishing over 250 posts or 1,000 replies in 24 hours.
package threadstest

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // Threads takes JPEG and PNG
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/channels/graphapi/graphapitest"
)

// Test credentials of the fake's account.
const (
	UserID   = "17841400008460056"
	Username = "camaca.campaign"
	Token    = "THfakeThreadsTokenForCrierTests0123456789abcdef"
)

// AllScopes are every permission the Threads channel uses.
var AllScopes = []string{"threads_basic", "threads_content_publish", "threads_manage_replies", "threads_read_replies", "threads_manage_insights", "threads_delete"}

// Post is one published post on the fake account (or a reply by someone
// else, Author not Username).
type Post struct {
	ID, Text, Link, TopicTag string
	// ImageURL is where the picture was fetched from; Image its bytes.
	ImageURL, Alt string
	Image         []byte
	SpoilerMedia  bool
	TextEntities  string
	ReplyTo       string
	Author        string
	Created       time.Time
	Likes         int
	Reposts       int
	Quotes        int
	Shares        int
	Views         int
	deleted       bool
}

// Answer is an error the fake gives instead of acting.
type Answer struct {
	Status  int
	Code    int
	Subcode int
	Message string
}

type container struct {
	params    map[string]string
	image     []byte
	polls     int
	status    string
	errorMsg  string
	published string
}

// Fake is a running fake Threads API with one account.
type Fake struct {
	URL string
	t   *testing.T

	mu         sync.Mutex
	readyAfter int
	scopes     []string
	containers map[string]*container
	posts      []*Post
	next       int
	published  []time.Time // root posts' times, for the daily limit
	replied    []time.Time
	deletes    []time.Time
	failAt     map[string]Answer // by "METHOD kind/edge", once
	now        func() time.Time
	fetch      *http.Client
	// violation is told of every request that breaks the documented
	// facts (t.Errorf unless a test of the fake itself expects them).
	violation func(string)
}

// New starts a fake Threads API, stopped when t ends. Every request that
// breaks the documented facts fails t.
func New(t *testing.T) *Fake {
	t.Helper()
	f := &Fake{t: t, next: 18000000000000000, scopes: AllScopes, containers: map[string]*container{}, now: time.Now,
		fetch: &http.Client{Timeout: 20 * time.Second}}
	f.violation = func(s string) { t.Errorf("threadstest: %s", s) }
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// ReadyAfter makes every new container answer IN_PROGRESS to its first n
// status reads.
func (f *Fake) ReadyAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readyAfter = n
}

// SetScopes sets the permissions the token has.
func (f *Fake) SetScopes(s ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = s
}

// OnViolation replaces failing the test on a request that breaks the
// documented facts, for tests of the fake itself.
func (f *Fake) OnViolation(fn func(string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violation = fn
}

// UsePostQuota counts n posts as published now, against the 250 a day.
func (f *Fake) UsePostQuota(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.published = append(f.published, f.now())
	}
}

// SetNow sets the fake's clock (the daily limits' window).
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// FailNext makes the next call of key ("POST user/threads_publish",
// "GET container/") answer a, once, without acting.
func (f *Fake) FailNext(key string, a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt == nil {
		f.failAt = map[string]Answer{}
	}
	f.failAt[key] = a
}

// Posts returns the account's live posts and replies, oldest first.
func (f *Fake) Posts() []Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Post
	for _, p := range f.posts {
		if !p.deleted && p.Author == Username {
			out = append(out, *p)
		}
	}
	return out
}

// Post returns one live post by id.
func (f *Fake) Post(id string) (Post, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.find(id); p != nil {
		return *p, true
	}
	return Post{}, false
}

// Engage adds people's likes, reposts and quotes to a post, and replies
// by someone else.
func (f *Fake) Engage(id string, likes, reposts, quotes int, replies ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.find(id)
	if p == nil {
		return
	}
	p.Likes, p.Reposts, p.Quotes, p.Views = p.Likes+likes, p.Reposts+reposts, p.Quotes+quotes, p.Views+10*(likes+1)
	for _, r := range replies {
		f.posts = append(f.posts, &Post{ID: f.id(), Text: r, ReplyTo: id, Author: "a.supporter", Created: f.now()})
	}
}

func (f *Fake) id() string {
	f.next++
	return strconv.Itoa(f.next)
}

func (f *Fake) find(id string) *Post {
	for _, p := range f.posts {
		if !p.deleted && p.ID == id {
			return p
		}
	}
	return nil
}

// serve checks and answers one request.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+graphapi.ThreadsVersion+"/")
	if !ok {
		f.refuse(w, 400, 2635, 0, "the request names no API version or another one than "+graphapi.ThreadsVersion)
		return
	}
	// Crier sends the token in the Authorization header only, never in
	// a URL where logs would keep it.
	if r.URL.Query().Has("access_token") || r.Header.Get("Authorization") != "Bearer "+Token {
		f.refuse(w, 400, 190, 0, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	params, err := readParams(r)
	if err != nil {
		f.refuse(w, 400, 100, 0, err.Error())
		return
	}
	node, edge, _ := strings.Cut(rest, "/")
	f.mu.Lock()
	key := r.Method + " " + f.kind(node) + "/" + edge
	if a, ok := f.failAt[key]; ok {
		delete(f.failAt, key)
		f.mu.Unlock()
		f.refuse(w, a.Status, a.Code, a.Subcode, a.Message)
		return
	}
	bad := check(key, params)
	if key == "POST user/threads" && len(bad) == 0 {
		bad = checkContainer(params)
	}
	if len(bad) > 0 {
		f.mu.Unlock()
		f.violation(strings.Join(bad, "; "))
		f.refuse(w, 400, 100, 0, "(#100) "+bad[0])
		return
	}
	if node != UserID && node != "me" && f.kind(node) != "container" && f.find(node) == nil {
		f.mu.Unlock()
		f.refuse(w, 400, 100, 33, fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", strings.ToLower(r.Method), node))
		return
	}
	if missing := f.missingScope(key, params); missing != "" {
		f.mu.Unlock()
		f.refuse(w, 403, 10, 0, "(#10) Application does not have permission for this action: "+missing)
		return
	}
	if key == "POST user/threads" && params["media_type"] == "IMAGE" {
		f.mu.Unlock()
		img, why := f.fetchImage(params["image_url"])
		f.mu.Lock()
		f.create(w, params, img, why)
		f.mu.Unlock()
		return
	}
	defer f.mu.Unlock()
	f.route(w, key, node, params)
}

// kind names what an id is: the account, a container, a media object.
func (f *Fake) kind(node string) string {
	switch {
	case node == UserID:
		return "user"
	case node == "me":
		return "me"
	case f.containers[node] != nil:
		return "container"
	}
	return "media"
}

func (f *Fake) missingScope(key string, params map[string]string) string {
	need := endpoints[key].scopes
	if key == "POST user/threads" && params["reply_to_id"] != "" {
		need = append(slices.Clone(need), "threads_manage_replies") // docReplies
	}
	for _, s := range need {
		if !contains(f.scopes, s) {
			return s
		}
	}
	return ""
}

// fetchImage fetches image_url as Threads does and checks it is a JPEG or
// PNG of at most 8 MB; why says what is wrong ("" when nothing).
func (f *Fake) fetchImage(u string) ([]byte, string) {
	resp, err := f.fetch.Get(u)
	if err != nil {
		return nil, "fetching the image: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "fetching the image: " + resp.Status
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxImage+1))
	if err != nil || len(data) > MaxImage {
		return nil, "the image is unreadable or over 8 MB"
	}
	_, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && format != "png") {
		return nil, "the image is not a JPEG or PNG picture"
	}
	return data, ""
}

func (f *Fake) route(w http.ResponseWriter, key, node string, params map[string]string) {
	switch key {
	case "POST user/threads":
		f.create(w, params, nil, "")
	case "GET container/":
		f.status(w, node)
	case "POST user/threads_publish":
		f.publish(w, params["creation_id"])
	case "GET user/threads":
		f.list(w, params)
	case "GET media/":
		answer(w, 200, f.fields(f.find(node), params["fields"]))
	case "GET media/replies":
		f.replies(w, node, params["fields"])
	case "GET media/insights":
		f.insights(w, node, params["metric"])
	case "DELETE media/":
		f.delete(w, node)
	case "GET me/":
		answer(w, 200, map[string]any{"id": UserID, "username": Username})
	case "GET user/threads_publishing_limit":
		f.published, f.replied = f.within(f.published), f.within(f.replied)
		answer(w, 200, map[string]any{"data": []any{map[string]any{"quota_usage": len(f.published), "config": map[string]any{"quota_total": PostsPerDay, "quota_duration": 86400},
			"reply_quota_usage": len(f.replied), "reply_config": map[string]any{"quota_total": RepliesPerDay, "quota_duration": 86400}}}})
	default:
		f.t.Errorf("threadstest: %s is documented but not faked", key)
		f.refuse(w, 400, 100, 0, "not faked")
	}
}

func (f *Fake) create(w http.ResponseWriter, params map[string]string, img []byte, why string) {
	if to := params["reply_to_id"]; to != "" && f.find(to) == nil {
		f.refuse(w, 400, 100, 33, "(#100) The reply_to_id does not exist")
		return
	}
	c := &container{params: params, image: img, polls: f.readyAfter, status: "IN_PROGRESS"}
	if why != "" {
		// Threads documents no error_message for pictures: UNKNOWN is
		// its catch-all (docTrouble).
		c.polls, c.status, c.errorMsg = 0, "ERROR", "UNKNOWN"
		f.t.Logf("threadstest: container refused: %s", why)
	}
	id := f.id()
	f.containers[id] = c
	answer(w, 200, map[string]any{"id": id})
}

func (f *Fake) status(w http.ResponseWriter, id string) {
	c := f.containers[id]
	if c.status == "IN_PROGRESS" {
		if c.polls > 0 {
			c.polls--
		} else {
			c.status = "FINISHED"
		}
	}
	out := map[string]any{"id": id, "status": c.status}
	if c.errorMsg != "" {
		out["error_message"] = c.errorMsg
	}
	answer(w, 200, out)
}

// within keeps the times of the last 24 hours.
func (f *Fake) within(ts []time.Time) []time.Time {
	from := f.now().Add(-24 * time.Hour)
	return slices.DeleteFunc(ts, func(t time.Time) bool { return t.Before(from) })
}

func (f *Fake) publish(w http.ResponseWriter, id string) {
	c := f.containers[id]
	switch {
	case c == nil:
		f.refuse(w, 400, 100, 0, "(#100) The media container does not exist")
		return
	case c.status == "PUBLISHED":
		f.refuse(w, 400, 100, 0, "(#100) The media container was already published")
		return
	case c.status != "FINISHED":
		f.refuse(w, 400, 100, 0, "(#100) The media container is not ready to be published ("+c.status+")")
		return
	}
	reply := c.params["reply_to_id"] != ""
	f.published, f.replied = f.within(f.published), f.within(f.replied)
	// Meta does not document the answer over a limit: the fake answers
	// the Graph API's throttling code (4).
	if !reply && len(f.published) >= PostsPerDay || reply && len(f.replied) >= RepliesPerDay {
		f.refuse(w, 400, 4, 0, "(#4) Application request limit reached: the profile published its daily API posts or replies")
		return
	}
	if reply {
		f.replied = append(f.replied, f.now())
	} else {
		f.published = append(f.published, f.now())
	}
	p := c.params
	post := &Post{ID: f.id(), Text: p["text"], Link: p["link_attachment"], TopicTag: p["topic_tag"], ImageURL: p["image_url"], Alt: p["alt_text"],
		Image: c.image, SpoilerMedia: p["is_spoiler_media"] == "true", TextEntities: p["text_entities"], ReplyTo: p["reply_to_id"],
		Author: Username, Created: f.now()}
	f.posts = append(f.posts, post)
	c.status, c.published = "PUBLISHED", post.ID
	answer(w, 200, map[string]any{"id": post.ID})
}

// list answers the account's posts (not replies), newest first.
func (f *Fake) list(w http.ResponseWriter, params map[string]string) {
	limit := 25
	if n, err := strconv.Atoi(params["limit"]); err == nil && n > 0 {
		limit = min(n, 100)
	}
	data := []map[string]any{}
	for i := len(f.posts) - 1; i >= 0 && len(data) < limit; i-- {
		if p := f.posts[i]; !p.deleted && p.Author == Username && p.ReplyTo == "" {
			data = append(data, f.fields(p, params["fields"]))
		}
	}
	answer(w, 200, map[string]any{"data": data})
}

// fields is a media object as Threads shows it, the fields asked for.
func (f *Fake) fields(p *Post, list string) map[string]any {
	all := map[string]any{"id": p.ID, "text": p.Text, "username": p.Author, "timestamp": p.Created.UTC().Format("2006-01-02T15:04:05-0700"),
		"permalink": "https://www.threads.net/@" + p.Author + "/post/C" + p.ID, "media_type": "TEXT_POST", "is_reply": p.ReplyTo != ""}
	if p.Link != "" {
		all["link_attachment_url"] = p.Link
	}
	if p.ImageURL != "" {
		all["media_type"], all["alt_text"] = "IMAGE", p.Alt
	}
	if p.TopicTag != "" {
		all["topic_tag"] = p.TopicTag
	}
	out := map[string]any{"id": p.ID}
	for _, k := range strings.Split(list, ",") {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	return out
}

// replies answers the direct replies to a post, oldest first.
func (f *Fake) replies(w http.ResponseWriter, id, list string) {
	data := []map[string]any{}
	for _, p := range f.posts {
		if !p.deleted && p.ReplyTo == id {
			data = append(data, f.fields(p, list))
		}
	}
	answer(w, 200, map[string]any{"data": data})
}

// insights answers the metrics asked for; a root post's replies count the
// whole conversation, a reply's its direct replies (docInsights).
func (f *Fake) insights(w http.ResponseWriter, id, list string) {
	p := f.find(id)
	n := map[string]int{"views": p.Views, "likes": p.Likes, "reposts": p.Reposts, "quotes": p.Quotes, "shares": p.Shares}
	if p.ReplyTo == "" {
		n["replies"] = f.conversation(id)
	} else {
		n["replies"] = len(f.direct(id))
	}
	data := []map[string]any{}
	for _, m := range strings.Split(list, ",") {
		data = append(data, map[string]any{"name": m, "period": "lifetime", "values": []any{map[string]any{"value": n[m]}},
			"title": m, "id": id + "/insights/" + m + "/lifetime"})
	}
	answer(w, 200, map[string]any{"data": data})
}

func (f *Fake) direct(id string) []*Post {
	var out []*Post
	for _, p := range f.posts {
		if !p.deleted && p.ReplyTo == id {
			out = append(out, p)
		}
	}
	return out
}

func (f *Fake) conversation(id string) int {
	n := 0
	for _, p := range f.direct(id) {
		n += 1 + f.conversation(p.ID)
	}
	return n
}

func (f *Fake) delete(w http.ResponseWriter, id string) {
	f.deletes = f.within(f.deletes)
	if len(f.deletes) >= DeletesPerDay {
		f.refuse(w, 400, 4, 0, "(#4) Application request limit reached: 100 deletes a day")
		return
	}
	f.deletes = append(f.deletes, f.now())
	f.find(id).deleted = true
	answer(w, 200, map[string]any{"success": true, "deleted_id": id})
}

// readParams reads the query or a form.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Method != http.MethodPost {
		return out, nil
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("(#100) a POST is a form, not %q", ct)
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, fmt.Errorf("(#100) unreadable form: %v", err)
	}
	for k, vs := range v {
		out[k] = vs[0]
	}
	return out, nil
}

// refuse answers in the Graph API's documented error shape.
func (f *Fake) refuse(w http.ResponseWriter, status, code, subcode int, msg string) {
	graphapitest.WriteError(w, status, code, subcode, msg, "AthreadsFakeTrace")
}

func answer(w http.ResponseWriter, status int, v any) { graphapitest.WriteJSON(w, status, v) }

// Count is a text's length by the documented rule, rune by rune: one a
// character, an emoji its UTF-8 bytes (docPosts).
func Count(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x1F000 || r >= 0x2300 && r <= 0x27BF || r >= 0x2B00 && r <= 0x2BFF {
			n += utf8.RuneLen(r)
		} else {
			n++
		}
	}
	return n
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// countLinks counts the unique http(s) URLs of text and the attachment.
func countLinks(text, attachment string) int {
	seen := map[string]bool{}
	for _, w := range strings.Fields(text) {
		if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") || strings.HasPrefix(w, "www.") { // docTextAttach: "www.facebook.com" counts
			seen[strings.TrimRight(w, ".,;:!?)")] = true
		}
	}
	if attachment != "" {
		seen[attachment] = true
	}
	return len(seen)
}
