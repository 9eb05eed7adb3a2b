package graphapitest

// The fake's Instagram professional account, linked to its Page: the
// container → media_publish flow, the account's media, comments and
// insights. Calls are checked against the vendored IGUser, IGMedia,
// ShadowIGMediaBuilder (a container) and IGComment specs, and against
// Instagram's documented limits the specs do not carry: a caption of at
// most 2,200 characters and 30 hashtags, an image_url Instagram can fetch
// over https (the fake fetches it, as Instagram does, and wants a JPEG
// of at most 8 MB), alt text of at most 1,000 characters, a
// container published once, and 100 posts published through the API in
// 24 hours.

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // decodes what image_url serves
	_ "image/png"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Instagram's documented limits.
const (
	// MaxCaption is a caption's limit in characters.
	MaxCaption = 2200
	// MaxHashtags is how many hashtags a caption may hold.
	MaxHashtags = 30
	// MaxIGImage is the largest picture Instagram fetches (8 MB).
	MaxIGImage = 8 << 20
	// PublishLimit is how many posts an account may publish through the
	// API in a moving 24 hours (content_publishing_limit's quota_total).
	PublishLimit = 100
	// MaxAlt is alt_text's limit in characters.
	MaxAlt = 1000
)

// The fake's Instagram account.
const (
	IGUserID   = "17841400008460056"
	IGUsername = "camaca_campaign"
)

// Container statuses (status_code) as Instagram names them.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusFinished   = "FINISHED"
	StatusError      = "ERROR"
	StatusExpired    = "EXPIRED"
	StatusPublished  = "PUBLISHED"
)

// IGMedia is one published post on the fake account.
type IGMedia struct {
	ID, Caption, Alt, Permalink string
	// Image is what Instagram fetched from image_url, and its type.
	Image       []byte
	ImageType   string
	ContainerID string
	Created     time.Time
	Likes       int
	Shares      int
	// Comments are supporters'; Own are the account's (corrections).
	Comments []string
	Own      []OwnComment
}

// OwnComment is a comment the account made under its own post.
type OwnComment struct{ ID, Text string }

// Container is a media container the fake made.
type Container struct {
	ID, Caption, ImageURL, Alt string
	// Status is its status_code; Polls is how many more reads it stays
	// IN_PROGRESS.
	Status  string
	Polls   int
	Reads   int
	MediaID string
}

// ig is the fake's Instagram state, kept beside the Page's.
type ig struct {
	user, media, builder, comment nodeSpec
	media_                        []*IGMedia
	containers                    map[string]*Container
	order                         []string
	polls                         int
	force                         string // the status the next container ends in
	httpImages                    bool
	pngImages                     bool
	forgotten                     map[string]bool // containers Instagram no longer knows
	failInsights                  *Answer
	images                        []fetchedImage
	fetch                         *http.Client
	fetchMu                       sync.Mutex
}

func newIG(f *Fake) error {
	s := &ig{containers: map[string]*Container{}, forgotten: map[string]bool{}, fetch: &http.Client{Timeout: 10 * time.Second}}
	for node, dst := range map[string]*nodeSpec{"IGUser": &s.user, "IGMedia": &s.media, "ShadowIGMediaBuilder": &s.builder, "IGComment": &s.comment} {
		var err error
		if *dst, err = loadSpec(node); err != nil {
			return err
		}
	}
	f.ig = s
	return nil
}

// AllowHTTPImages lets image_url be plain http: a test's fake
// channels.PublicImages serves from a local http server. Instagram itself
// fetches only https addresses, and the fake refuses others until told.
func (f *Fake) AllowHTTPImages() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ig.httpImages = true
}

// AllowPNGImages lets image_url serve a PNG. Meta documents JPEG as the
// one format of a feed photo, and the fake refuses others until told.
func (f *Fake) AllowPNGImages() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ig.pngImages = true
}

// ForgetContainer makes Instagram no longer know a container (or any id):
// reading it answers Meta's "does not exist", code 100 subcode 33, as for
// a container older than Instagram keeps.
func (f *Fake) ForgetContainer(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ig.containers, id)
	f.ig.forgotten[id] = true
}

// AgeMedia makes the account's posts so far look published by ago
// earlier (last week's post).
func (f *Fake) AgeMedia(ago time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.ig.media_ {
		m.Created = m.Created.Add(-ago)
	}
}

// SetContainerPolls makes each new container answer IN_PROGRESS to its
// first n status reads before it is FINISHED.
func (f *Fake) SetContainerPolls(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ig.polls = n
}

// FailInsights makes the next insights read answer a (a token without
// instagram_manage_insights), once.
func (f *Fake) FailInsights(a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ig.failInsights = &a
}

// EndContainersAs makes new containers end as status (StatusError,
// StatusExpired) instead of FINISHED; "" restores FINISHED.
func (f *Fake) EndContainersAs(status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ig.force = status
}

// ExpireContainer makes a container EXPIRED, as Instagram does to one not
// published within 24 hours.
func (f *Fake) ExpireContainer(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.ig.containers[id]; c != nil && c.Status != StatusPublished {
		c.Status = StatusExpired
	}
}

// Media returns the account's published posts, oldest first.
func (f *Fake) Media() []IGMedia {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]IGMedia, 0, len(f.ig.media_))
	for _, m := range f.ig.media_ {
		out = append(out, *m)
	}
	return out
}

// Containers returns the containers made, oldest first.
func (f *Fake) Containers() []Container {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, id := range f.ig.order {
		out = append(out, *f.ig.containers[id])
	}
	return out
}

// Messages is how many posts and own comments the account shows.
func (f *Fake) Messages() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.ig.media_ {
		n += 1 + len(m.Own)
	}
	return n
}

// Text is a post's caption or an own comment's text by id, false when
// there is none.
func (f *Fake) Text(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.ig.media_ {
		if m.ID == id {
			return m.Caption, true
		}
		for _, c := range m.Own {
			if c.ID == id {
				return c.Text, true
			}
		}
	}
	return "", false
}

// EngageMedia adds likes, shares and comments to a published post.
func (f *Fake) EngageMedia(id string, likes, shares int, comments ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.ig.find(id); m != nil {
		m.Likes += likes
		m.Shares += shares
		m.Comments = append(m.Comments, comments...)
	}
}

func (s *ig) find(id string) *IGMedia {
	for _, m := range s.media_ {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// serves reports whether node is the account, a container or a post.
func (s *ig) serves(node string) bool {
	return node == IGUserID || s.containers[node] != nil || s.find(node) != nil || s.forgotten[node]
}

// serveIG checks and answers a request to the Instagram account. It runs
// with f.mu held, but lets go of it while it fetches an image_url (which
// may be served by the daemon under test).
func (f *Fake) serveIG(w http.ResponseWriter, method, node, edge string, params map[string]string) {
	s := f.ig
	// Instagram's calls count against the account's business use case.
	w.Header().Set("X-Business-Use-Case-Usage", fmt.Sprintf(`{%q:[{"type":"instagram","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}`, IGUserID))
	if s.forgotten[node] {
		f.refuse(w, 400, 100, 33, "Unsupported request - method type: "+strings.ToLower(method)+". Object with ID '"+node+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation")
		return
	}
	spec, name := s.user, "IGUser"
	switch {
	case s.containers[node] != nil:
		spec, name = s.builder, "ShadowIGMediaBuilder"
	case node != IGUserID:
		spec, name = s.media, "IGMedia"
	}
	if bad := s.check(spec, name, method, edge, params); len(bad) > 0 {
		f.t.Errorf("graphapitest: %s", strings.Join(bad, "; "))
		f.refuse(w, 400, 100, 0, "(#100) "+bad[0])
		return
	}
	switch {
	case node == IGUserID && edge == "" && method == "GET":
		answer(w, 200, map[string]any{"id": IGUserID, "username": IGUsername, "name": PageName})
	case node == IGUserID && edge == "media" && method == "POST":
		f.createContainer(w, params)
	case node == IGUserID && edge == "media_publish" && method == "POST":
		f.publishContainer(w, params["creation_id"])
	case node == IGUserID && edge == "media" && method == "GET":
		f.listMedia(w, params)
	case node == IGUserID && edge == "content_publishing_limit" && method == "GET":
		answer(w, 200, map[string]any{"data": []any{map[string]any{"quota_usage": s.publishedToday()}}})
	case name == "ShadowIGMediaBuilder":
		c := s.containers[node]
		c.Reads++
		if c.Status == StatusInProgress {
			if c.Polls > 0 {
				c.Polls--
			} else {
				c.Status = StatusFinished
			}
		}
		out := map[string]any{"id": c.ID, "status_code": c.Status}
		if c.Status == StatusError {
			out["status"] = "Error: Media upload has failed with error code 2207003"
		}
		answer(w, 200, out)
	case edge == "" && method == "GET":
		answer(w, 200, s.fields(s.find(node)))
	case edge == "" && method == "DELETE":
		s.media_ = slices.DeleteFunc(s.media_, func(m *IGMedia) bool { return m.ID == node })
		answer(w, 200, map[string]any{"success": true})
	case edge == "comments" && method == "GET":
		answer(w, 200, s.fields(s.find(node))["comments"])
	case edge == "comments" && method == "POST":
		m := s.find(node)
		f.next++
		c := OwnComment{ID: strconv.Itoa(18000000000000000 + f.next), Text: params["message"]}
		m.Own = append(m.Own, c)
		answer(w, 200, map[string]any{"id": c.ID})
	case edge == "insights" && method == "GET" && s.failInsights != nil:
		a := *s.failInsights
		s.failInsights = nil
		f.refuse(w, a.Status, a.Code, a.Subcode, a.Message)
	case edge == "insights" && method == "GET":
		f.insights(w, s.find(node), params["metric"])
	default:
		f.t.Errorf("graphapitest: %s %s/%s is in the spec but not faked", method, name, edge)
		f.refuse(w, 400, 100, 0, "not faked")
	}
}

// check is the spec check with the Graph API's paging parameters, which
// no spec lists, taken apart, and the fields asked of an edge checked
// against the type it returns.
func (s *ig) check(spec nodeSpec, name, method, edge string, params map[string]string) []string {
	rest := map[string]string{}
	var bad []string
	for k, v := range params {
		switch k {
		case "limit":
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 100 {
				bad = append(bad, fmt.Sprintf("%s %s/%s: limit=%q must be 1 to 100", method, name, edge, v))
			}
		case "after", "before":
		default:
			rest[k] = v
		}
	}
	bad = append(bad, spec.check(name, method, edge, rest, nil)...)
	if fields, ok := params["fields"]; ok && method == "GET" {
		switch edge {
		case "media":
			bad = append(bad, s.media.checkFields("IGMedia", "", fields)...)
		case "comments":
			bad = append(bad, s.comment.checkFields("IGComment", "", fields)...)
		}
	}
	return bad
}

// createContainer checks the caption and fetches the image as Instagram
// does, then makes an IN_PROGRESS container.
func (f *Fake) createContainer(w http.ResponseWriter, params map[string]string) {
	s := f.ig
	caption := params["caption"]
	if n := utf8.RuneCountInString(caption); n > MaxCaption {
		f.refuse(w, 400, 100, 2207010, fmt.Sprintf("(#100) The caption is %d characters, over Instagram's %d", n, MaxCaption))
		return
	}
	if n := len(hashtag.FindAllString(caption, -1)); n > MaxHashtags {
		f.t.Errorf("graphapitest: a caption with %d hashtags, over Instagram's %d", n, MaxHashtags)
		f.refuse(w, 400, 100, 2207010, "(#100) The caption has more than 30 hashtags")
		return
	}
	if n := utf8.RuneCountInString(params["alt_text"]); n > MaxAlt {
		f.t.Errorf("graphapitest: alt_text of %d characters, over Instagram's %d", n, MaxAlt)
		f.refuse(w, 400, 100, 0, "(#100) alt_text is too long")
		return
	}
	if params["image_url"] == "" || params["media_type"] != "" {
		f.t.Errorf("graphapitest: a feed photo is created with image_url and no media_type: %v", params)
		f.refuse(w, 400, 100, 0, "(#100) The parameter image_url is required")
		return
	}
	data, ct, problem := f.fetchImage(params["image_url"])
	if strings.Contains(problem, "aspect ratio") {
		f.refuse(w, 400, 36003, 2207009, "The aspect ratio is not supported: "+problem)
		return
	}
	if problem != "" {
		f.refuse(w, 400, 9004, 2207052, "Media download has failed. The media URI doesn't meet our requirements: "+problem)
		return
	}
	f.next++
	c := &Container{ID: strconv.Itoa(17900000000000000 + f.next), Caption: caption, ImageURL: params["image_url"], Alt: params["alt_text"], Status: StatusInProgress, Polls: s.polls}
	if s.force != "" {
		c.Status, c.Polls = s.force, 0
	}
	s.containers[c.ID] = c
	s.order = append(s.order, c.ID)
	s.fetched(c.ID, data, ct)
	answer(w, 200, map[string]any{"id": c.ID})
}

// fetched keeps what the container's image_url served, for its post.
func (s *ig) fetched(id string, data []byte, ct string) {
	s.images = append(s.images, fetchedImage{container: id, data: data, ct: ct})
}

type fetchedImage struct {
	container string
	data      []byte
	ct        string
}

// fetchImage gets image_url with f.mu let go; problem says what Instagram
// would refuse.
func (f *Fake) fetchImage(raw string) ([]byte, string, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && f.ig.httpImages)) {
		return nil, "", "image_url must be a public https address"
	}
	f.mu.Unlock()
	defer f.mu.Lock()
	f.ig.fetchMu.Lock()
	defer f.ig.fetchMu.Unlock()
	resp, err := f.ig.fetch.Get(raw)
	if err != nil {
		return nil, "", "it could not be fetched"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Sprintf("fetching it answered %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxIGImage+1))
	if err != nil || len(data) > MaxIGImage {
		return nil, "", "it is over 8 MB or could not be read"
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && !(format == "png" && f.ig.pngImages)) || cfg.Height == 0 {
		return nil, "", "it is not a JPEG picture"
	}
	if r := float64(cfg.Width) / float64(cfg.Height); r < 0.8 || r > 1.91 {
		return nil, "", fmt.Sprintf("its aspect ratio %d:%d is outside 4:5 to 1.91:1", cfg.Width, cfg.Height)
	}
	return data, "image/" + format, ""
}

// publishContainer publishes a FINISHED container, once.
func (f *Fake) publishContainer(w http.ResponseWriter, id string) {
	s := f.ig
	c := s.containers[id]
	switch {
	case c == nil:
		f.refuse(w, 400, 100, 2207006, "(#100) The media with id "+id+" cannot be found")
		return
	case c.Status == StatusPublished:
		f.refuse(w, 400, 9007, 2207027, "The media has already been published")
		return
	case c.Status == StatusExpired:
		f.refuse(w, 400, 9007, 2207020, "The media you are trying to access has expired. Please try to upload again.")
		return
	case c.Status != StatusFinished:
		f.refuse(w, 400, 9007, 2207027, "Media ID is not available: the media is not ready for publishing, please wait for a moment")
		return
	case s.publishedToday() >= PublishLimit:
		w.Header().Set("X-Business-Use-Case-Usage", fmt.Sprintf(`{%q:[{"type":"instagram","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":60}]}`, IGUserID))
		f.refuse(w, 400, 9, 2207042, "Application request limit reached: the account reached the maximum number of posts published through the API in 24 hours")
		return
	}
	f.next++
	m := &IGMedia{ID: strconv.Itoa(17950000000000000 + f.next), Caption: c.Caption, Alt: c.Alt, ContainerID: c.ID, Created: time.Now()}
	m.Permalink = "https://www.instagram.com/p/Fake" + strconv.Itoa(f.next) + "/"
	for _, im := range s.images {
		if im.container == c.ID {
			m.Image, m.ImageType = im.data, im.ct
		}
	}
	c.Status, c.MediaID = StatusPublished, m.ID
	s.media_ = append(s.media_, m)
	answer(w, 200, map[string]any{"id": m.ID})
}

func (s *ig) publishedToday() int {
	n := 0
	for _, m := range s.media_ {
		if time.Since(m.Created) < 24*time.Hour {
			n++
		}
	}
	return n
}

// listMedia answers the account's recent posts, newest first.
func (f *Fake) listMedia(w http.ResponseWriter, params map[string]string) {
	limit := 25
	if n, err := strconv.Atoi(params["limit"]); err == nil {
		limit = n
	}
	data := []map[string]any{}
	for i := len(f.ig.media_) - 1; i >= 0 && len(data) < limit; i-- {
		data = append(data, f.ig.fields(f.ig.media_[i]))
	}
	answer(w, 200, map[string]any{"data": data})
}

// fields is what the fake shows of a post; the comments edge is the
// newest first.
func (s *ig) fields(m *IGMedia) map[string]any {
	var comments []map[string]any
	for i := len(m.Own) - 1; i >= 0; i-- {
		comments = append(comments, map[string]any{"id": m.Own[i].ID, "text": m.Own[i].Text,
			"timestamp": m.Created.UTC().Format("2006-01-02T15:04:05-0700"), "username": IGUsername})
	}
	for i := len(m.Comments) - 1; i >= 0; i-- {
		comments = append(comments, map[string]any{"id": fmt.Sprintf("%s%d", m.ID[:8], i), "text": m.Comments[i],
			"timestamp": m.Created.UTC().Format("2006-01-02T15:04:05-0700"), "username": "supporter" + strconv.Itoa(i)})
	}
	return map[string]any{"id": m.ID, "caption": m.Caption, "alt_text": m.Alt, "permalink": m.Permalink, "media_type": "IMAGE",
		"timestamp": m.Created.UTC().Format("2006-01-02T15:04:05-0700"), "like_count": m.Likes, "comments_count": len(m.Comments) + len(m.Own),
		"comments": map[string]any{"data": comments}}
}

// insights answers the metrics v21 gives a feed photo.
func (f *Fake) insights(w http.ResponseWriter, m *IGMedia, metrics string) {
	known := map[string]func() int{
		"likes": func() int { return m.Likes }, "comments": func() int { return len(m.Comments) }, "shares": func() int { return m.Shares },
		"saved": func() int { return 0 }, "reach": func() int { return 3 * (m.Likes + len(m.Comments)) },
		"total_interactions": func() int { return m.Likes + len(m.Comments) + m.Shares },
	}
	var data []map[string]any
	for _, name := range strings.Split(metrics, ",") {
		v, ok := known[name]
		if !ok {
			f.t.Errorf("graphapitest: insights metric %q is not one Instagram gives a feed photo on %s", name, "v21.0")
			f.refuse(w, 400, 100, 2108006, "(#100) metric["+name+"] must be one of the following values: "+strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			return
		}
		data = append(data, map[string]any{"name": name, "period": "lifetime", "values": []any{map[string]any{"value": v()}}, "id": m.ID + "/insights/" + name + "/lifetime"})
	}
	answer(w, 200, map[string]any{"data": data})
}

// hashtag is a hashtag as Instagram counts one: # and a word, after a
// space or at the start (a link's #fragment is none).
var hashtag = regexp.MustCompile(`(?:^|\s)#[\pL\pN_]+`)
