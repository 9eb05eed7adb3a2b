package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/post"
)

func (c *Console) approve(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if m.Workflow != WorkflowReview && m.Workflow != WorkflowDraft {
		c.refuse(w, r, s, "Only a draft or a post in review can be approved; this one is "+strings.ToLower(m.Workflow.Label())+".")
		return
	}
	if !c.sameRevision(w, r, s, sp.Post, "approved") {
		return
	}
	read := revision(sp.Post)
	err := c.setWorkflow(r.Context(), m.PostID, WorkflowApproved, s.User.Email, "approved", "revision "+read, read)
	if c.refusedAsChanged(w, r, s, m.PostID, "approved", err) {
		return
	}
	if err != nil {
		c.serverError(w, r, "approving the post", err)
		return
	}
	c.notify(r.Context(), Notice{Event: NoticeApproved, PostID: m.PostID, Actor: s.User.Email})
	redirectDone(w, r, m.PostID, "approved")
}

func (c *Console) schedule(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	at, err := c.parseWhen(r.PostFormValue("schedule_for"))
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.renderPost(w, r, s, sp.Post.ID, err.Error())
		return
	}
	if !c.sameRevision(w, r, s, sp.Post, "scheduled") {
		return
	}
	if c.doSchedule(w, r, s, sp.Post, m, at) {
		redirectDone(w, r, m.PostID, "scheduled")
	}
}

// doSchedule puts a console post in the store as scheduled; the bot's
// publish_due job publishes it when it falls due, through the same durable
// path as every other source. p is what the editor read: nothing is
// written if the stored post changed since.
func (c *Console) doSchedule(w http.ResponseWriter, r *http.Request, s Session, p post.Post, m Meta, at time.Time) bool {
	if !c.mayGoOut(w, r, s, m) {
		return false
	}
	verb := "scheduled"
	if m.Workflow == WorkflowScheduled {
		verb = "rescheduled"
	}
	p.Draft, p.PublishAt = false, at.UTC()
	m.Workflow = WorkflowScheduled
	err := c.saveConsolePost(r.Context(), p, store.PostScheduled, m, s.User.Email, verb, "for "+c.showTime(at), revision(p))
	if c.refusedAsChanged(w, r, s, p.ID, "scheduled", err) {
		return false
	}
	if err != nil {
		c.serverError(w, r, "scheduling the post", err)
		return false
	}
	c.notify(r.Context(), Notice{Event: NoticeScheduled, PostID: p.ID, Actor: s.User.Email, Detail: "for " + c.showTime(at)})
	return true
}

func (c *Console) mayGoOut(w http.ResponseWriter, r *http.Request, s Session, m Meta) bool {
	if m.Workflow == WorkflowPublished {
		c.refuse(w, r, s, "This post has already been published.")
		return false
	}
	ok, err := c.approved(r.Context(), m)
	if err != nil {
		c.serverError(w, r, "checking the approval", err)
		return false
	}
	if !ok {
		c.refuse(w, r, s, "An editor must approve this post before it can go out (console.require_approval is on). Press Approve first.")
		return false
	}
	return true
}

func (c *Console) publishNow(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if !c.sameRevision(w, r, s, sp.Post, "published") {
		return
	}
	if c.doPublish(w, r, s, sp.Post, m) {
		redirectDone(w, r, m.PostID, "published")
	}
}

// doPublish queues the post's deliveries now, through the bot. p is what
// the editor read, and what goes out.
func (c *Console) doPublish(w http.ResponseWriter, r *http.Request, s Session, p post.Post, m Meta) bool {
	if !c.mayGoOut(w, r, s, m) {
		return false
	}
	p.Draft, p.PublishAt = false, c.opts.Now().UTC().Truncate(time.Second)
	queued, err := c.opts.Publisher.Publish(r.Context(), p)
	var dup Duplicate
	if errors.As(err, &dup) {
		_ = addEvent(r.Context(), c.db(), p.ID, c.opts.Now(), s.User.Email, "not sent: duplicate", "same link as "+dup.DuplicateOf())
		c.renderPost(w, r, s, p.ID, "Not sent: this post has the same link as "+dup.DuplicateOf()+", which was already published. Change the link to send it as a new post.")
		return false
	}
	if err != nil {
		c.serverError(w, r, "publishing the post", err)
		return false
	}
	if err := c.setWorkflow(r.Context(), p.ID, WorkflowPublished, s.User.Email, "published", "to "+strings.Join(queued, ", "), ""); err != nil {
		c.serverError(w, r, "publishing the post", err)
		return false
	}
	return true
}

func (c *Console) cancel(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if sp.State != store.PostScheduled {
		c.refuse(w, r, s, "Only a scheduled post can be unscheduled; this one is "+string(sp.State)+".")
		return
	}
	if !confirmed(r) {
		c.askFirst(w, r, s, question{
			Title: "Unschedule “" + sp.Post.Title + "”?",
			Consequences: []string{
				"It will not go out on " + c.showTime(sp.Post.PublishAt) + ". It becomes a draft again, on no channel.",
				"The time is kept: the post's page offers to schedule it again for the same time in one click.",
			},
			Action: "/posts/" + m.PostID + "/cancel",
			Button: "Yes, unschedule", Back: "/posts/" + m.PostID, BackLabel: "Keep it scheduled",
		})
		return
	}
	// The post keeps its time (PublishAt), so that it can be scheduled
	// again as it was.
	p := sp.Post
	p.Draft = true
	m.Workflow = WorkflowCancelled
	err := c.saveConsolePost(r.Context(), p, store.PostDraft, m, s.User.Email, "unscheduled", "was scheduled for "+c.showTime(sp.Post.PublishAt), "")
	if c.refusedAsChanged(w, r, s, p.ID, "cancelled", err) {
		return
	}
	if err != nil {
		c.serverError(w, r, "cancelling the post", err)
		return
	}
	redirectDone(w, r, m.PostID, "unscheduled")
}

// retry queues a failed delivery again (any source's post).
func (c *Console) retry(w http.ResponseWriter, r *http.Request, s Session) {
	id, channel := r.PathValue("id"), r.PostFormValue("channel")
	sp, err := c.opts.Store.Post(r.Context(), id)
	if err != nil {
		c.notFound(w, r, "no post has this id")
		return
	}
	d, err := c.opts.Store.Delivery(r.Context(), id, channel)
	if err != nil {
		c.refuse(w, r, s, "This post has no delivery to "+channel+" to retry.")
		return
	}
	if d.State != store.DeliveryFailed && d.State != store.DeliveryUnknown {
		c.refuse(w, r, s, "Only a failed delivery can be retried; the one to "+channel+" is "+string(d.State)+".")
		return
	}
	if !slices.Contains(c.opts.Publisher.ChannelNames(), channel) {
		c.refuse(w, r, s, "The channel "+channel+" is no longer configured.")
		return
	}
	queued, err := c.opts.Publisher.Retry(r.Context(), sp.Post.ID, []string{channel})
	if err != nil {
		c.renderPost(w, r, s, sp.Post.ID, "The delivery could not be queued again: "+err.Error())
		return
	}
	if len(queued) == 0 {
		c.renderPost(w, r, s, sp.Post.ID, "Nothing to retry: the delivery to "+channel+" is no longer failed.")
		return
	}
	if err := addEvent(r.Context(), c.db(), id, c.opts.Now(), s.User.Email, "retried", channel); err != nil {
		c.serverError(w, r, "retrying the delivery", err)
		return
	}
	redirectDone(w, r, id, "retried")
}

// UnknownResolver is what the console asks of a Publisher whose channels
// may leave a delivery waiting for an organiser's check, because they
// cannot read back what they sent (channels.BlindSender: Telegram): the
// bot does. The post page's It went out and Send again need it.
type UnknownResolver interface {
	// MarkSent records that the delivery went out, on by's word.
	MarkSent(ctx context.Context, postID, channel, by string) error
	// SendAgain sends it again, an organiser having found it missing.
	SendAgain(ctx context.Context, postID, channel string) error
}

// wentOut is the post page's It went out: an organiser looked in the
// channel and found the post there.
func (c *Console) wentOut(w http.ResponseWriter, r *http.Request, s Session) {
	c.resolveUnknown(w, r, s, true)
}

// sendAgain is the post page's Send again: an organiser looked and the
// post is missing.
func (c *Console) sendAgain(w http.ResponseWriter, r *http.Request, s Session) {
	c.resolveUnknown(w, r, s, false)
}

func (c *Console) resolveUnknown(w http.ResponseWriter, r *http.Request, s Session, wentOut bool) {
	ctx, id, channel := r.Context(), r.PathValue("id"), r.PostFormValue("channel")
	if _, err := c.opts.Store.Post(ctx, id); err != nil {
		c.notFound(w, r, "no post has this id")
		return
	}
	res, ok := c.opts.Publisher.(UnknownResolver)
	if !ok {
		c.refuse(w, r, s, "This Crier cannot record what a channel did: use crier retry on the server.")
		return
	}
	d, err := c.opts.Store.Delivery(ctx, id, channel)
	if err != nil || !d.WaitsForCheck() {
		c.refuse(w, r, s, "The delivery to "+channel+" is not waiting for anyone to check it.")
		return
	}
	action, done := "marked as sent after checking the channel", "went-out"
	if wentOut {
		err = res.MarkSent(ctx, id, channel, s.User.Email)
	} else {
		action, done = "sent again after checking the channel", "sent-again"
		err = res.SendAgain(ctx, id, channel)
	}
	if err != nil {
		c.renderPost(w, r, s, id, "Nothing was changed: "+err.Error())
		return
	}
	if err := addEvent(ctx, c.db(), id, c.opts.Now(), s.User.Email, action, channel); err != nil {
		c.serverError(w, r, "recording what was checked", err)
		return
	}
	redirectDone(w, r, id, done)
}

func (c *Console) testNewsletter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.opts.SendTest == nil {
		c.refuse(w, r, s, "The newsletter is not enabled (channels.email).")
		return
	}
	sp, err := c.opts.Store.Post(r.Context(), r.PathValue("id"))
	if err != nil {
		c.notFound(w, r, "no post has this id")
		return
	}
	if !c.canSendTest(c.previewsFor(r.Context(), s, sp.Post)) {
		c.refuse(w, r, s, "No mail server is configured, so the newsletter is only saved to the outbox: a test copy has nowhere to go. Set SMTP_HOST (see docs/newsletter.md) to send one.")
		return
	}
	msg := "A test copy of the newsletter was sent to " + s.User.Email + "."
	if err := c.opts.SendTest(r.Context(), sp.Post, s.User.Email); err != nil {
		msg = "The test copy could not be sent: " + err.Error()
	} else {
		_ = addEvent(r.Context(), c.db(), sp.Post.ID, c.opts.Now(), s.User.Email, "test newsletter sent", "to "+s.User.Email)
	}
	c.renderPost(w, r, s, sp.Post.ID, msg)
}

// frontMatter is a post as Markdown front matter (docs/sources.md).
type frontMatter struct {
	Title          string                   `yaml:"title"`
	Summary        string                   `yaml:"summary,omitempty"`
	Link           string                   `yaml:"link,omitempty"`
	Tags           []string                 `yaml:"tags,omitempty"`
	Image          *fmImage                 `yaml:"image,omitempty"`
	Language       string                   `yaml:"language,omitempty"`
	ContentWarning string                   `yaml:"content_warning,omitempty"`
	PublishAt      string                   `yaml:"publish_at,omitempty"`
	Draft          bool                     `yaml:"draft,omitempty"`
	Channels       map[string]post.Override `yaml:"channels,omitempty"`
}

type fmImage struct {
	URL string `yaml:"url,omitempty"`
	Alt string `yaml:"alt,omitempty"`
}

// downloadMarkdown serves a console post as a Markdown file with front
// matter, as the posts folder would hold it.
func (c *Console) downloadMarkdown(w http.ResponseWriter, r *http.Request, s Session) {
	sp, _, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	p, _ := c.uploads().Resolve(sp.Post) // the image's full address, as it goes out
	fm := frontMatter{Title: p.Title, Summary: p.Summary, Link: p.Link, Tags: p.Tags, Language: p.Language,
		ContentWarning: p.ContentWarning, Draft: p.Draft, Channels: p.Channels}
	if p.Image != nil {
		fm.Image = &fmImage{URL: p.Image.URL, Alt: p.Image.Alt}
	}
	if !p.Draft && !p.PublishAt.IsZero() {
		fm.PublishAt = p.PublishAt.In(c.opts.Location).Format("2006-01-02 15:04")
	}
	y, err := yaml.Marshal(fm)
	if err != nil {
		c.serverError(w, r, "writing the Markdown file", err)
		return
	}
	name := strings.TrimPrefix(p.ID, "console:") + ".md"
	if slug := slugify(p.Title); slug != "" {
		name = slug + ".md"
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	fmt.Fprintf(w, "---\n%s---\n\n%s\n", y, strings.TrimSpace(p.Body))
}

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}
