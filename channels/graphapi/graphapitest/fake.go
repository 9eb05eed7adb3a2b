// Package graphapitest is a fake Graph API for the Meta channels' tests.
// It checks every request's path, method, parameters and fields against
// Meta's published machine-readable specifications (vendored from
// facebook-business-sdk-codegen, see testdata/api_specs/README.md), and
// what the specs do not say against Meta's documented limits (a post's
// 63,206 characters, a photo's 4 MB, the token in the Authorization
// header). It answers as the Graph API does: errors in Meta's shape
// ({"error":{"message","type","code","error_subcode","fbtrace_id"}}) and
// an X-App-Usage header on every answer.
package graphapitest

import (
	"encoding/json"
	"fmt"
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
	"unicode/utf8"

	"github.com/crierhq/crier/channels/graphapi"
)

// Documented limits the specs do not carry.
const (
	// MaxMessage is a Facebook post's message limit in characters.
	MaxMessage = 63206
	// MaxPhoto is the largest photo Meta takes for a Page (4 MB).
	MaxPhoto = 4 << 20
)

// Test credentials of the fake's Page.
const (
	PageID   = "104857600012345"
	PageName = "Camaca Campaign"
	Token    = "EAAGfakePageTokenForCrierTests0123456789abcdef"
)

// Post is one post on the fake Page.
type Post struct {
	ID, Message, Link string
	// PhotoID and Alt are a photo post's (Alt: alt_text_custom).
	PhotoID, Alt string
	Created      time.Time
	Edits        int
	Reactions    int
	Comments     []string
	Shares       int
	deleted      bool
}

// Answer is an error the fake gives instead of acting.
type Answer struct {
	Status  int
	Code    int
	Subcode int
	Message string
	Header  map[string]string
}

// Fake is a running fake Graph API with one Page.
type Fake struct {
	URL string
	t   *testing.T

	mu     sync.Mutex
	page   Page
	post   nodeSpec
	photo  nodeSpec
	posts  []*Post
	next   int
	fail   []Answer
	failAt map[string]Answer // by the path's first segment, once
	scopes []string
	ig     *ig // the Instagram account linked to the Page (instagram.go)
}

// Page is the Page spec, kept apart so checks name their node.
type Page = nodeSpec

// New starts a fake Graph API, stopped when t ends. Every request that
// breaks the specs fails t.
func New(t *testing.T) *Fake {
	t.Helper()
	f := &Fake{t: t, next: 1000, scopes: []string{"pages_show_list", "pages_manage_posts", "pages_read_engagement",
		"instagram_basic", "instagram_content_publish", "instagram_manage_insights", "instagram_manage_comments"}}
	var err error
	for node, dst := range map[string]*nodeSpec{"Page": &f.page, "PagePost": &f.post, "Photo": &f.photo} {
		if *dst, err = loadSpec(node); err != nil {
			t.Fatal(err)
		}
	}
	if err := newIG(f); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Posts returns the Page's posts, oldest first (deleted ones left out).
func (f *Fake) Posts() []Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Post
	for _, p := range f.posts {
		if !p.deleted {
			out = append(out, *p)
		}
	}
	return out
}

// Post returns one live post by id.
func (f *Fake) Post(id string) (Post, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.find(id)
	if p == nil {
		return Post{}, false
	}
	return *p, true
}

// Fail makes the next requests answer a, one each, without acting.
func (f *Fake) Fail(a ...Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, a...)
}

// FailPath makes the next request whose path starts with node (a node id,
// or "debug_token") answer a, once, without acting.
func (f *Fake) FailPath(node string, a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt == nil {
		f.failAt = map[string]Answer{}
	}
	f.failAt[node] = a
}

// SetScopes sets the permissions the token has (debug_token's scopes).
func (f *Fake) SetScopes(s ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = s
}

// Engage adds people's reactions, comments and shares to a post.
func (f *Fake) Engage(id string, reactions, shares int, comments ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.find(id); p != nil {
		p.Reactions += reactions
		p.Shares += shares
		p.Comments = append(p.Comments, comments...)
	}
}

func (f *Fake) find(id string) *Post {
	for _, p := range f.posts {
		if !p.deleted && (p.ID == id || p.PhotoID == id) {
			return p
		}
	}
	return nil
}

// serve checks and answers one request.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("X-App-Usage", `{"call_count":1,"total_cputime":1,"total_time":1}`)
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+graphapi.Version+"/")
	if !ok {
		f.refuse(w, 400, 2635, 0, "the request names no API version or another one than "+graphapi.Version)
		return
	}
	if r.URL.Query().Has("access_token") || r.Header.Get("Authorization") != "Bearer "+Token {
		f.refuse(w, 400, 190, 0, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	params, files, err := readParams(r)
	if err != nil {
		f.refuse(w, 400, 100, 0, err.Error())
		return
	}
	if len(f.fail) > 0 {
		a := f.fail[0]
		f.fail = f.fail[1:]
		for k, v := range a.Header {
			w.Header().Set(k, v)
		}
		f.refuse(w, a.Status, a.Code, a.Subcode, a.Message)
		return
	}
	node, edge, _ := strings.Cut(rest, "/")
	if a, ok := f.failAt[node]; ok {
		delete(f.failAt, node)
		f.refuse(w, a.Status, a.Code, a.Subcode, a.Message)
		return
	}
	if f.ig.serves(node) {
		f.serveIG(w, r.Method, node, edge, params)
		return
	}
	if node == "debug_token" {
		f.debugToken(w, params)
		return
	}
	if bad := f.specOf(node).check(f.nodeName(node), r.Method, edge, params, files); len(bad) > 0 {
		f.t.Errorf("graphapitest: %s", strings.Join(bad, "; "))
		f.refuse(w, 400, 100, 0, "(#100) "+bad[0])
		return
	}
	f.route(w, r.Method, node, edge, params, files)
}

func (f *Fake) nodeName(node string) string {
	switch {
	case node == PageID:
		return "Page"
	case strings.Contains(node, "_"):
		return "PagePost"
	}
	return "Photo"
}

func (f *Fake) specOf(node string) nodeSpec {
	switch f.nodeName(node) {
	case "Page":
		return f.page
	case "PagePost":
		return f.post
	}
	return f.photo
}

// readParams reads the query, a form or a multipart form, and the names
// of uploaded files and their sizes (checked here against MaxPhoto).
func readParams(r *http.Request) (map[string]string, []string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Method != http.MethodPost {
		return out, nil, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var files []string
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(MaxPhoto + 1<<20); err != nil {
			return nil, nil, fmt.Errorf("(#100) unreadable upload: %v", err)
		}
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
		for k, fh := range r.MultipartForm.File {
			if fh[0].Size > MaxPhoto {
				return nil, nil, fmt.Errorf("(#100) the photo is %d bytes, over the 4 MB limit", fh[0].Size)
			}
			files = append(files, k)
		}
	default:
		b, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, nil, fmt.Errorf("(#100) unreadable form: %v", err)
		}
		for k, vs := range v {
			out[k] = vs[0]
		}
	}
	if utf8.RuneCountInString(out["message"]) > MaxMessage {
		return nil, nil, fmt.Errorf("(#100) the message is over %d characters", MaxMessage)
	}
	return out, files, nil
}

// refuse answers in Meta's documented error shape.
func (f *Fake) refuse(w http.ResponseWriter, status, code, subcode int, msg string) {
	WriteError(w, status, code, subcode, msg, "AfakeTrace"+strconv.Itoa(f.next))
}

// WriteError answers in the Graph API's documented error shape
// ({"error":{"message","type","code","error_subcode","fbtrace_id"}}),
// status 400 when 0: the fakes of every Meta API answer alike.
func WriteError(w http.ResponseWriter, status, code, subcode int, msg, trace string) {
	typ := "OAuthException"
	if code == 2 || code == 1 {
		typ = "FacebookApiException"
	}
	e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": trace}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if status == 0 {
		status = 400
	}
	answer(w, status, map[string]any{"error": e})
}

// WriteJSON answers v as the Graph API does.
func WriteJSON(w http.ResponseWriter, status int, v any) { answer(w, status, v) }

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *Fake) debugToken(w http.ResponseWriter, params map[string]string) {
	if params["input_token"] != Token {
		f.refuse(w, 400, 190, 0, "Invalid OAuth access token")
		return
	}
	answer(w, 200, map[string]any{"data": map[string]any{"is_valid": true, "type": "PAGE", "profile_id": PageID, "scopes": f.scopes}})
}

// route acts on a request that passed the checks.
func (f *Fake) route(w http.ResponseWriter, method, node, edge string, params map[string]string, files []string) {
	switch {
	case node == PageID && edge == "" && method == "GET":
		answer(w, 200, map[string]any{"id": PageID, "name": PageName})
	case node == PageID && (edge == "feed" || edge == "photos") && method == "POST":
		f.publish(w, edge, params, files)
	case node == PageID && (edge == "published_posts" || edge == "feed" || edge == "posts") && method == "GET":
		f.list(w, params)
	case node != PageID && edge == "" && method == "GET":
		f.read(w, node, params)
	case node != PageID && edge == "" && method == "POST":
		p := f.find(node)
		if p == nil {
			f.refuse(w, 400, 100, 33, "Unsupported post request. Object with ID '"+node+"' does not exist")
			return
		}
		if m, ok := params["message"]; ok && m != p.Message {
			p.Message = m
			p.Edits++
		}
		answer(w, 200, map[string]any{"success": true})
	case node != PageID && edge == "" && method == "DELETE":
		p := f.find(node)
		if p == nil {
			f.refuse(w, 400, 100, 33, "Unsupported delete request. Object with ID '"+node+"' does not exist")
			return
		}
		p.deleted = true
		answer(w, 200, map[string]any{"success": true})
	default:
		f.t.Errorf("graphapitest: %s %s/%s is in the spec but not faked", method, node, edge)
		f.refuse(w, 400, 100, 0, "not faked")
	}
}

func (f *Fake) publish(w http.ResponseWriter, edge string, params map[string]string, files []string) {
	f.next++
	p := &Post{ID: fmt.Sprintf("%s_%d", PageID, f.next), Message: params["message"], Link: params["link"], Created: time.Now()}
	if edge == "photos" {
		if len(files) == 0 && params["url"] == "" {
			f.refuse(w, 400, 324, 0, "(#324) Requires upload file")
			return
		}
		f.next++
		p.PhotoID, p.Alt = strconv.Itoa(f.next), params["alt_text_custom"]
		f.posts = append(f.posts, p)
		answer(w, 200, map[string]any{"id": p.PhotoID, "post_id": p.ID})
		return
	}
	if p.Message == "" && p.Link == "" {
		f.refuse(w, 400, 100, 0, "(#100) Missing message or attachment")
		return
	}
	f.posts = append(f.posts, p)
	answer(w, 200, map[string]any{"id": p.ID})
}

// list answers the Page's recent posts, newest first.
func (f *Fake) list(w http.ResponseWriter, params map[string]string) {
	limit := 25
	if n, err := strconv.Atoi(params["limit"]); err == nil && n > 0 {
		limit = min(n, 100)
	}
	live := []*Post{}
	for _, p := range f.posts {
		if !p.deleted {
			live = append(live, p)
		}
	}
	slices.Reverse(live)
	var data []map[string]any
	for _, p := range live {
		if len(data) == limit {
			break
		}
		data = append(data, f.fields(p))
	}
	answer(w, 200, map[string]any{"data": data})
}

func (f *Fake) read(w http.ResponseWriter, id string, params map[string]string) {
	p := f.find(id)
	if p == nil {
		f.refuse(w, 400, 100, 33, "Unsupported get request. Object with ID '"+id+"' does not exist")
		return
	}
	answer(w, 200, f.fields(p))
}

// fields is everything the fake knows of a post, as the Graph API shows it.
func (f *Fake) fields(p *Post) map[string]any {
	out := map[string]any{"id": p.ID, "message": p.Message, "created_time": p.Created.UTC().Format("2006-01-02T15:04:05-0700"),
		"permalink_url": "https://www.facebook.com/" + strings.Replace(p.ID, "_", "/posts/", 1),
		"shares":        map[string]any{"count": p.Shares},
		"reactions":     map[string]any{"data": []any{}, "summary": map[string]any{"total_count": p.Reactions}},
	}
	var comments []map[string]any
	for i := len(p.Comments) - 1; i >= 0; i-- {
		comments = append(comments, map[string]any{"id": fmt.Sprintf("%s_c%d", p.ID, i), "message": p.Comments[i],
			"created_time": p.Created.UTC().Format("2006-01-02T15:04:05-0700")})
	}
	out["comments"] = map[string]any{"data": comments, "summary": map[string]any{"total_count": len(p.Comments)}}
	if p.Link != "" {
		out["attachments"] = map[string]any{"data": []any{map[string]any{"unshimmed_url": p.Link, "type": "share"}}}
	}
	return out
}
