package console

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/media"
	"github.com/crierhq/crier/post"
)

// maxUpload bounds a form with an image; maxImage the image itself.
const (
	maxUpload = 12 << 20
	maxImage  = 8 << 20
)

// imageTypes are the uploads accepted, by sniffed content type.
var imageTypes = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}

// postForm is the write form's content.
type postForm struct {
	ID       string
	Title    string
	Body     string
	Summary  string
	Link     string
	Tags     string
	Alt      string
	ImageURL string
	// ImageName is the console upload the post shows (a hidden field), so
	// that an image accepted by a refused form is still there when the
	// corrected form is sent.
	ImageName      string
	ContentWarning string
	Language       string
	ScheduleFor    string
	// GoingOut is when a scheduled post goes out, for the Save button
	// that says so; "" for a draft.
	GoingOut string
	Channels []channelForm
	Problems map[string]string
	// Revision is the stored post the form was opened on (revision):
	// Schedule and Publish from the form are refused if it changed since.
	Revision string
}

type channelForm struct {
	Name string
	Text string
	Skip bool
}

func (c *Console) formFromPost(p post.Post) postForm {
	f := postForm{ID: p.ID, Title: p.Title, Body: p.Body, Summary: p.Summary, Link: p.Link, Tags: strings.Join(p.Tags, ", "),
		ContentWarning: p.ContentWarning, Language: p.Language}
	if p.Image != nil {
		f.Alt, f.ImageURL = p.Image.Alt, p.Image.URL
		if name := c.uploadName(p.Image); name != "" {
			f.ImageName, f.ImageURL = name, media.Ref(name)
		}
	}
	if !p.PublishAt.IsZero() && !p.Draft {
		f.ScheduleFor = c.formatWhen(p.PublishAt)
		f.GoingOut = p.PublishAt.In(c.opts.Location).Format("Mon 2 Jan 15:04")
	}
	for _, name := range c.opts.Publisher.ChannelNames() {
		f.Channels = append(f.Channels, channelForm{Name: name, Text: p.Channels[name].Text, Skip: p.Channels[name].Skip})
	}
	return f
}

// postFromForm reads the form into a post (without touching an image upload).
func (c *Console) postFromForm(r *http.Request, p post.Post) (post.Post, map[string]string) {
	problems := map[string]string{}
	p.Title = strings.TrimSpace(r.PostFormValue("title"))
	p.Body = strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")
	p.Summary = strings.TrimSpace(r.PostFormValue("summary"))
	p.Link = strings.TrimSpace(r.PostFormValue("link"))
	p.ContentWarning = strings.TrimSpace(r.PostFormValue("content_warning"))
	p.Language = strings.TrimSpace(r.PostFormValue("language"))
	p.Tags = nil
	for _, t := range strings.Split(r.PostFormValue("tags"), ",") {
		if t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "#")); t != "" {
			p.Tags = append(p.Tags, t)
		}
	}
	if p.Title == "" {
		problems["title"] = "Please give the post a title."
	}
	if p.Link != "" {
		if u, err := url.Parse(p.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems["link"] = "The link must be a web address starting with https://."
		}
	}
	p.Channels = map[string]post.Override{}
	for _, name := range c.opts.Publisher.ChannelNames() {
		o := post.Override{Text: strings.TrimSpace(r.PostFormValue("text_" + name)), Skip: r.PostFormValue("skip_"+name) != ""}
		if o.Text != "" || o.Skip {
			p.Channels[name] = o
		}
	}
	if len(p.Channels) == 0 {
		p.Channels = nil
	}
	if img := c.uploadedImage(r.PostFormValue("image_name")); img != nil {
		p.Image = img // chosen in a form that was refused, or the post's own
	}
	if alt := strings.TrimSpace(r.PostFormValue("alt")); p.Image != nil {
		p.Image.Alt = alt
	}
	if r.PostFormValue("remove_image") != "" {
		p.Image = nil
	}
	return p, problems
}

// saveUpload checks and stores an uploaded image under DataDir/uploads,
// returning the image for the post; nil when no file was sent.
func (c *Console) saveUpload(r *http.Request) (*post.Image, error) {
	if r.MultipartForm == nil {
		return nil, nil
	}
	file, hdr, err := r.FormFile("image")
	if errors.Is(err, http.ErrMissingFile) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the image could not be read: %v", err)
	}
	defer file.Close()
	if hdr.Size == 0 {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(file, maxImage+1))
	if err != nil {
		return nil, fmt.Errorf("the image could not be read: %v", err)
	}
	if len(data) > maxImage {
		return nil, fmt.Errorf("the image is larger than %d MB; please make it smaller", maxImage>>20)
	}
	ext, ok := imageTypes[http.DetectContentType(data)]
	if !ok {
		return nil, errors.New("the image must be a PNG, JPEG, GIF or WebP picture")
	}
	dir := filepath.Join(c.opts.DataDir, "uploads")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storing the image: %w", err)
	}
	name := strings.ToLower(randomToken()[:20]) + ext
	name = strings.NewReplacer("-", "a", "_", "b").Replace(name)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		return nil, fmt.Errorf("storing the image: %w", err)
	}
	// Stored by name: the address is built when the post is sent.
	return &post.Image{URL: media.Ref(name)}, nil
}

// uploads finds the console's uploads and builds their addresses.
func (c *Console) uploads() media.Resolver {
	return media.Resolver{PublicURL: c.opts.PublicURL, Dir: filepath.Join(c.opts.DataDir, "uploads")}
}

// uploadedImage is the image of an upload named in a form, nil when the
// name is not one of the console's stored uploads.
func (c *Console) uploadedImage(name string) *post.Image {
	if !media.ValidName(name) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(c.uploads().Dir, name)); err != nil {
		return nil
	}
	return &post.Image{URL: media.Ref(name)}
}

// uploadName is the name of the console upload an image is, "" for an
// image from elsewhere.
func (c *Console) uploadName(img *post.Image) string { return c.uploads().Name(img) }

// media serves an uploaded image (public: Discord and mail readers load it).
func (c *Console) media(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(filepath.Join(c.opts.DataDir, "uploads", name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := http.DetectContentType(data)
	if _, ok := imageTypes[ct]; !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

func (c *Console) newPost(w http.ResponseWriter, r *http.Request, s Session) {
	f := c.formFromPost(post.Post{Draft: true})
	f.ScheduleFor = c.dayForm(r.URL.Query().Get("date")) // a day clicked on the calendar
	c.render(w, r, s, "write", map[string]any{"Form": f, "New": true, "Autosave": true})
}

func (c *Console) editPost(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if !c.mayEdit(s, m) {
		c.refuse(w, r, s, "Only its author or an editor can change this post.")
		return
	}
	if m.Workflow == WorkflowPublished {
		c.refuse(w, r, s, c.publishedRefusal())
		return
	}
	f := c.formFromPost(sp.Post)
	f.Revision = revision(sp.Post)
	c.render(w, r, s, "write", map[string]any{"Form": f, "Meta": m, "Previews": c.previewsFor(r.Context(), s, sp.Post),
		"Autosave": autosaves(s, m)})
}

// autosaves tells whether the write form saves itself as a draft: only
// while saving cannot change where the post stands (a draft, or one in
// review or unscheduled); an author's save of an approved or scheduled
// post would take its approval away.
func autosaves(s Session, m Meta) bool {
	switch m.Workflow {
	case WorkflowDraft, WorkflowReview:
		return true
	case WorkflowApproved, WorkflowCancelled:
		return s.User.Role.Can(RoleEditor)
	}
	return false
}

func (c *Console) mayEdit(s Session, m Meta) bool {
	return s.User.Role.Can(RoleEditor) || s.User.ID == m.AuthorID
}

// loadConsolePost reads the post named in the path and its console
// bookkeeping, answering 404 or a refusal itself.
func (c *Console) loadConsolePost(w http.ResponseWriter, r *http.Request) (store.StoredPost, Meta, bool) {
	id := r.PathValue("id")
	sp, err := c.opts.Store.Post(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		c.notFound(w, r, "no post has this id")
		return sp, Meta{}, false
	}
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return sp, Meta{}, false
	}
	m, ok, err := c.meta(r.Context(), id)
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return sp, m, false
	}
	if sp.State == store.PostPublished {
		m.Workflow = WorkflowPublished // published by the bot when it fell due
	}
	if !ok {
		http.Error(w, errNotConsole.Error()+"; this one comes from "+sp.Post.Source.Kind+" ("+sp.Post.Source.Ref+")", http.StatusConflict)
		return sp, m, false
	}
	return sp, m, true
}

// savePost handles the write form: Save draft, Submit for review, Schedule
// or Publish now.
func (c *Console) savePost(w http.ResponseWriter, r *http.Request, s Session) {
	ctx := r.Context()
	action := r.PostFormValue("action")
	var (
		p      post.Post
		m      Meta
		isNew  = r.PathValue("id") == ""
		stored string // the stored post's revision
	)
	if !isNew {
		// A post never saved (a form refused before its first save, or
		// opened before this was fixed) is saved as new, never lost.
		_, err := c.opts.Store.Post(ctx, r.PathValue("id"))
		isNew = errors.Is(err, store.ErrNotFound)
	}
	if isNew {
		p = post.Post{ID: newPostID(), Draft: true}
		p.Source = post.Source{Kind: Kind, Name: "console", Key: p.ID, Ref: "/posts/" + p.ID}
		m = Meta{PostID: p.ID, Workflow: WorkflowDraft, AuthorID: s.User.ID, Author: s.User.Email}
	} else {
		sp, meta, ok := c.loadConsolePost(w, r)
		if !ok {
			return
		}
		if !c.mayEdit(s, meta) {
			c.refuse(w, r, s, "Only its author or an editor can change this post.")
			return
		}
		if meta.Workflow == WorkflowPublished {
			c.refuse(w, r, s, c.publishedRefusal())
			return
		}
		p, m, stored = sp.Post, meta, revision(sp.Post)
	}
	read := r.PostFormValue("revision")
	if (action == "schedule" || action == "publish") && !s.User.Role.Can(RoleEditor) {
		c.refuse(w, r, s, "Only an editor can schedule or publish a post. Submit it for review instead.")
		return
	}
	p, problems := c.postFromForm(r, p)
	img, err := c.saveUpload(r)
	if err != nil {
		problems["image"] = err.Error()
	} else if img != nil {
		img.Alt = strings.TrimSpace(r.PostFormValue("alt"))
		p.Image = img
	}
	var at time.Time
	if action == "schedule" {
		at, err = c.parseWhen(r.PostFormValue("schedule_for"))
		if err != nil {
			problems["schedule_for"] = err.Error()
		}
	}
	done, goesOut := map[string]string{"schedule": "scheduled", "publish": "published"}[action]
	if !isNew && goesOut && read != stored && len(problems) == 0 {
		// The editor's text stays in the form, over the post as it is now.
		problems["revision"] = msgChanged
		if err := c.recordChanged(ctx, p.ID, s.User.Email, done, &changedError{Read: read, Now: stored}); err != nil {
			c.serverError(w, r, "recording the refusal", err)
			return
		}
		read = stored
	}
	if len(problems) > 0 {
		f := c.formFromPost(p)
		f.ScheduleFor = r.PostFormValue("schedule_for")
		f.Revision = read
		f.Alt = strings.TrimSpace(r.PostFormValue("alt")) // kept when the image is refused
		f.Problems = problems
		if isNew {
			f.ID = "" // never saved: the corrected form creates it
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.render(w, r, s, "write", map[string]any{"Form": f, "New": isNew, "Meta": m, "Previews": c.previewsFor(ctx, s, p)})
		return
	}
	verb := "edited"
	if isNew {
		verb = "created"
	}
	// An author's edit after approval needs approving again.
	if !isNew && !s.User.Role.Can(RoleEditor) && m.Workflow != WorkflowDraft && m.Workflow != WorkflowReview {
		m.Workflow = WorkflowDraft
	}
	state := store.PostDraft
	if m.Workflow == WorkflowScheduled {
		state = store.PostScheduled
	}
	if action == "submit" {
		m.Workflow = WorkflowReview
	}
	// Only a scheduled post is waiting to go out; every other one is a draft.
	p.Draft = state != store.PostScheduled
	if !goesOut || isNew {
		read = "" // only Schedule and Publish depend on what was read
	}
	err = c.saveConsolePost(ctx, p, state, m, s.User.Email, verb, "", read)
	if c.refusedAsChanged(w, r, s, p.ID, done, err) {
		return
	}
	if err != nil {
		c.serverError(w, r, "saving the post", err)
		return
	}
	switch action {
	case "submit":
		if err := addEvent(ctx, c.db(), p.ID, c.opts.Now(), s.User.Email, "submitted for review", ""); err != nil {
			c.serverError(w, r, "submitting the post", err)
			return
		}
		c.notify(ctx, Notice{Event: NoticeSubmitted, PostID: p.ID, Actor: s.User.Email})
	case "schedule":
		if !c.doSchedule(w, r, s, p, m, at) {
			return
		}
	case "publish":
		if !c.doPublish(w, r, s, p, m) {
			return
		}
	}
	// Save and Submit say what happened; so do Schedule and Publish.
	done = map[string]string{"submit": "submitted", "schedule": "scheduled", "publish": "published"}[action]
	redirectDone(w, r, p.ID, cmp.Or(done, "saved"))
}

// parseWhen reads the schedule field, written in the campaign's locale
// (or as 2031-05-01T09:00), in the campaign's time zone; it must lie in
// the future.
func (c *Console) parseWhen(v string) (time.Time, error) {
	t, err := c.when().Parse(v, c.opts.Location)
	if err != nil {
		return time.Time{}, err
	}
	if !t.After(c.opts.Now()) {
		return time.Time{}, fmt.Errorf("%s is in the past; choose a later time, or Publish now.", t.Format("2 Jan 2006 15:04 MST"))
	}
	return t, nil
}

func (c *Console) refuse(w http.ResponseWriter, r *http.Request, s Session, msg string) {
	w.WriteHeader(http.StatusForbidden)
	c.render(w, r, s, "forbidden", map[string]any{"Message": msg})
}

// sameOrigin makes the addresses of uploads (and of pictures chosen for a
// preview) in s relative, so that the console's previews show them however
// the console was opened (localhost, another port), not only at public_url.
func (c *Console) sameOrigin(s string) string {
	base := strings.TrimRight(c.opts.PublicURL, "/")
	if base == "" {
		return s
	}
	return strings.NewReplacer(base+media.Prefix, media.Prefix, base+"/preview/image/", "/preview/image/").Replace(s)
}
