package mastodonfake

import (
	"bytes"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const accountID = "1"

func (s *Server) handle(w http.ResponseWriter, req *http.Request, pattern string, params map[string]string, body []byte) {
	switch req.Method + " " + pattern {
	case "GET /api/v2/instance":
		if s.opts.NoV2Instance {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
			return
		}
		writeJSON(w, http.StatusOK, s.instanceV2(req))
	case "GET /api/v1/instance":
		writeJSON(w, http.StatusOK, s.instanceV1(req))
	case "GET /api/v1/accounts/verify_credentials":
		a := s.account(req, s.caller(req))
		a["source"] = map[string]any{"note": "", "fields": []any{}, "privacy": "public", "sensitive": false, "language": "en", "follow_requests_count": 0, "indexable": true}
		a["role"] = map[string]any{"id": "-99", "name": "", "color": "", "permissions": "0", "highlighted": false}
		writeJSON(w, http.StatusOK, a)
	case "GET /api/v1/accounts/{id}/statuses":
		s.accountStatuses(w, req, params["id"])
	case "POST /api/v1/statuses":
		s.postStatus(w, req, body)
	case "GET /api/v1/statuses/{id}":
		s.mu.Lock()
		st := s.find(params["id"])
		s.mu.Unlock()
		if st == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
			return
		}
		writeJSON(w, http.StatusOK, s.statusJSON(req, st))
	case "POST /api/v2/media":
		s.upload(w, req, body)
	case "GET /api/v1/media/{id}":
		s.mu.Lock()
		m := s.media[params["id"]]
		var processing bool
		if m != nil && m.polls > 0 {
			m.polls--
			processing = true
		}
		s.mu.Unlock()
		switch {
		case m == nil:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
		case processing:
			writeJSON(w, http.StatusPartialContent, s.mediaJSON(req, m, false))
		default:
			writeJSON(w, http.StatusOK, s.mediaJSON(req, m, true))
		}
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "This fake does not implement " + req.Method + " " + pattern})
	}
}

func (s *Server) base(req *http.Request) string { return "http://" + req.Host }

func (s *Server) instanceV2(req *http.Request) map[string]any {
	host := req.Host
	return map[string]any{
		"domain": host, "title": "Fake", "version": "4.3.0", "source_url": "https://github.com/mastodon/mastodon",
		"description": "A fake Mastodon for tests", "languages": []string{"en"},
		"usage":         map[string]any{"users": map[string]any{"active_month": 1}},
		"thumbnail":     map[string]any{"url": s.base(req) + "/thumb.png"},
		"icon":          []any{},
		"api_versions":  map[string]any{"mastodon": 2},
		"registrations": map[string]any{"enabled": false, "approval_required": false},
		"contact":       map[string]any{"email": "admin@example.org"},
		"rules":         []any{},
		"configuration": map[string]any{
			"urls":        map[string]any{"streaming": "wss://" + host},
			"accounts":    map[string]any{"max_featured_tags": 10, "max_pinned_statuses": 5},
			"translation": map[string]any{"enabled": false},
			"statuses": map[string]any{
				"max_characters": s.opts.MaxCharacters, "max_media_attachments": 4,
				"characters_reserved_per_url": s.opts.CharactersReservedPerURL,
			},
			"media_attachments": map[string]any{
				"supported_mime_types": []string{"image/png", "image/jpeg", "image/gif", "image/webp"},
				"image_size_limit":     16777216, "image_matrix_limit": 33177600,
				"video_size_limit": 103809024, "video_frame_rate_limit": 120, "video_matrix_limit": 8294400,
				"description_limit": 1500,
			},
			"polls": map[string]any{"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746},
		},
	}
}

func (s *Server) instanceV1(req *http.Request) map[string]any {
	return map[string]any{
		"uri": req.Host, "title": "Fake", "short_description": "", "description": "", "email": "admin@example.org",
		"version": "3.5.3", "urls": map[string]any{"streaming_api": "wss://" + req.Host},
		"stats":     map[string]any{"user_count": 1, "status_count": 0, "domain_count": 0},
		"thumbnail": nil, "languages": []string{"en"}, "registrations": false, "approval_required": false,
		"invites_enabled": false, "contact_account": nil, "rules": []any{},
		"configuration": map[string]any{
			"accounts": map[string]any{"max_featured_tags": 10},
			"statuses": map[string]any{"max_characters": s.opts.MaxCharacters, "max_media_attachments": 4, "characters_reserved_per_url": s.opts.CharactersReservedPerURL},
			"media_attachments": map[string]any{
				"supported_mime_types": []string{"image/png"}, "image_size_limit": 16777216, "image_matrix_limit": 33177600,
				"video_size_limit": 103809024, "video_frame_rate_limit": 120, "video_matrix_limit": 8294400,
			},
			"polls": map[string]any{"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746},
		},
	}
}

// caller is the account whose token authorised req (checked already).
func (s *Server) caller(req *http.Request) acct {
	token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[token]
}

// accountByID returns the account with the id, if any.
func (s *Server) accountByID(id string) (acct, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.id == id {
			return a, true
		}
	}
	return acct{}, false
}

// knows reports whether a mention of user (on domain, "" for local) names
// an account of this instance; others stay plain text in the HTML.
func (s *Server) knows(req *http.Request) func(user, domain string) bool {
	return func(user, domain string) bool {
		if domain != "" && !strings.EqualFold(domain, req.Host) {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, a := range s.accounts {
			if strings.EqualFold(a.username, user) {
				return true
			}
		}
		return false
	}
}

func (s *Server) account(req *http.Request, a acct) map[string]any {
	s.mu.Lock()
	n := 0
	for _, st := range s.statuses {
		if st.AccountID == a.id {
			n++
		}
	}
	s.mu.Unlock()
	u := s.base(req) + "/@" + a.username
	return map[string]any{
		"id": a.id, "username": a.username, "acct": a.username, "display_name": a.username, "locked": false, "bot": true,
		"discoverable": true, "indexable": true, "group": false, "created_at": "2024-01-01T00:00:00.000Z", "note": "",
		"url": u, "uri": s.base(req) + "/users/" + a.username, "avatar": s.base(req) + "/avatar.png", "avatar_static": s.base(req) + "/avatar.png",
		"header": s.base(req) + "/header.png", "header_static": s.base(req) + "/header.png",
		"followers_count": 0, "following_count": 0, "statuses_count": n, "last_status_at": nil,
		"emojis": []any{}, "fields": []any{},
	}
}

func (s *Server) find(id string) *Status {
	for _, st := range s.statuses {
		if st.ID == id {
			return st
		}
	}
	return nil
}

func (s *Server) statusJSON(req *http.Request, st *Status) map[string]any {
	var replyTo, replyAcct any
	s.mu.Lock()
	if st.InReplyToID != "" {
		replyTo = st.InReplyToID
		if parent := s.find(st.InReplyToID); parent != nil {
			replyAcct = parent.AccountID
		}
	}
	media := []any{}
	for _, id := range st.MediaIDs {
		if m := s.media[id]; m != nil {
			media = append(media, s.mediaJSON(req, m, true))
		}
	}
	s.mu.Unlock()
	lang := any(nil)
	if st.Language != "" {
		lang = st.Language
	}
	owner, _ := s.accountByID(st.AccountID)
	r := render(s.base(req), st.Text, s.knows(req))
	tags, mentions := []any{}, []any{}
	for _, t := range r.tags {
		tags = append(tags, map[string]any{"name": strings.ToLower(t), "url": s.base(req) + "/tags/" + strings.ToLower(t)})
	}
	for _, m := range r.mentions {
		s.mu.Lock()
		var a acct
		for _, c := range s.accounts {
			if strings.EqualFold(c.username, m) {
				a = c
			}
		}
		s.mu.Unlock()
		mentions = append(mentions, map[string]any{"id": a.id, "username": a.username, "acct": a.username, "url": s.base(req) + "/@" + a.username})
	}
	return map[string]any{
		"id": st.ID, "uri": s.base(req) + "/users/" + owner.username + "/statuses/" + st.ID, "url": s.base(req) + "/@" + owner.username + "/" + st.ID,
		"created_at": st.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), "account": s.account(req, owner),
		"content": r.html, "visibility": st.Visibility, "sensitive": st.Sensitive, "spoiler_text": st.SpoilerText,
		"media_attachments": media, "mentions": mentions, "tags": tags, "emojis": []any{},
		"reblogs_count": 0, "favourites_count": 0, "replies_count": 0,
		"in_reply_to_id": replyTo, "in_reply_to_account_id": replyAcct, "language": lang,
		"reblog": nil, "poll": nil, "card": nil, "edited_at": nil,
	}
}

func (s *Server) mediaJSON(req *http.Request, m *Media, processed bool) map[string]any {
	var u any
	if processed {
		u = s.base(req) + "/media/" + m.ID + ".png"
	}
	return map[string]any{
		"id": m.ID, "type": "image", "url": u, "preview_url": s.base(req) + "/media/" + m.ID + "-small.png",
		"remote_url": nil, "description": m.Description, "blurhash": nil, "meta": map[string]any{},
	}
}

func (s *Server) accountStatuses(w http.ResponseWriter, req *http.Request, id string) {
	if _, ok := s.accountByID(id); !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
		return
	}
	limit := 20
	if n, err := strconv.Atoi(req.URL.Query().Get("limit")); err == nil && n > 0 {
		limit = min(n, 40)
	}
	s.mu.Lock()
	list := append([]*Status(nil), s.statuses...)
	s.mu.Unlock()
	var out []any // newest first
	for i := len(list) - 1; i >= 0 && len(out) < limit; i-- {
		if list[i].AccountID == id {
			out = append(out, s.statusJSON(req, list[i]))
		}
	}
	if out == nil {
		out = []any{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postStatus(w http.ResponseWriter, req *http.Request, body []byte) {
	var p struct {
		Status      string   `json:"status"`
		SpoilerText string   `json:"spoiler_text"`
		Visibility  string   `json:"visibility"`
		Language    string   `json:"language"`
		Sensitive   bool     `json:"sensitive"`
		InReplyToID string   `json:"in_reply_to_id"`
		MediaIDs    []string `json:"media_ids"`
	}
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if ct == "application/json" {
		if err := json.Unmarshal(body, &p); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: " + err.Error()})
			return
		}
	} else {
		form, _ := url.ParseQuery(string(body))
		p.Status, p.SpoilerText, p.Visibility = form.Get("status"), form.Get("spoiler_text"), form.Get("visibility")
		p.Language, p.Sensitive, p.InReplyToID = form.Get("language"), form.Get("sensitive") == "true", form.Get("in_reply_to_id")
		p.MediaIDs = form["media_ids[]"]
	}
	key := req.Header.Get("Idempotency-Key")
	caller := s.caller(req)
	ik := idemKey{strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "), key}
	s.mu.Lock()
	now := s.opts.Now()
	if e, ok := s.keys[ik]; ok && key != "" && !s.opts.IgnoreIdempotencyKey {
		if now.Sub(e.at) < idempotencyTTL {
			st := s.find(e.statusID)
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, s.statusJSON(req, st))
			return
		}
		delete(s.keys, ik)
	}
	problem := ""
	switch {
	case strings.TrimSpace(p.Status) == "" && len(p.MediaIDs) == 0:
		problem = "Validation failed: Text can't be blank"
	case StatusLength(p.SpoilerText, p.Status, s.opts.CharactersReservedPerURL) > s.opts.MaxCharacters:
		problem = "Validation failed: Text character limit of " + strconv.Itoa(s.opts.MaxCharacters) + " exceeded"
	case p.InReplyToID != "" && s.find(p.InReplyToID) == nil:
		problem = "Validation failed: the status you are replying to does not exist"
	}
	for _, id := range p.MediaIDs {
		m := s.media[id]
		if m == nil || m.polls > 0 {
			problem = "Validation failed: media " + id + " is missing or not processed yet"
		}
	}
	if problem != "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": problem})
		return
	}
	if p.Visibility == "" {
		p.Visibility = "public"
	}
	s.nextID++
	st := &Status{
		ID: strconv.Itoa(s.nextID), AccountID: caller.id, Text: p.Status, SpoilerText: p.SpoilerText, Visibility: p.Visibility,
		Language: p.Language, Sensitive: p.Sensitive || (p.SpoilerText != "" && len(p.MediaIDs) > 0),
		InReplyToID: p.InReplyToID, MediaIDs: p.MediaIDs, IdempotencyKey: key, CreatedAt: now,
	}
	for _, id := range p.MediaIDs {
		s.media[id].Attached = true
	}
	s.statuses = append(s.statuses, st)
	if key != "" {
		s.keys[ik] = idemEntry{st.ID, now}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.statusJSON(req, st))
}

func (s *Server) upload(w http.ResponseWriter, req *http.Request, body []byte) {
	_, params, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	form, err := mr.ReadForm(32 << 20)
	if err != nil || len(form.File["file"]) == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: File can't be blank"})
		return
	}
	fh := form.File["file"][0]
	ct := fh.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "image/") {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: File content type is invalid"})
		return
	}
	s.mu.Lock()
	s.nextID++
	m := &Media{ID: strconv.Itoa(s.nextID), Size: int(fh.Size), ContentType: ct, polls: s.opts.MediaPolls}
	if d := form.Value["description"]; len(d) > 0 {
		m.Description = d[0]
	}
	s.media[m.ID] = m
	s.mu.Unlock()
	if m.polls > 0 {
		writeJSON(w, http.StatusAccepted, s.mediaJSON(req, m, false))
		return
	}
	writeJSON(w, http.StatusOK, s.mediaJSON(req, m, true))
}
