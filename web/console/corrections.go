package console

// Correct everywhere and Withdraw everywhere (issue 23): the pages that ask
// Options.Corrections to correct or withdraw a published post on each
// channel it went out on. The console shows, per channel, what will happen
// and what cannot, previews the corrected version beside what went out,
// asks for confirmation naming each channel, sends an author's correction
// to an editor first, and lists every correction and withdrawal with its
// result per channel. It does no network work itself.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// Bounds of what an organiser writes: Bluesky's correction reply carries
// the note within its 300 characters; the reason shows in the archive.
const (
	maxNote   = 280
	maxReason = 1000
)

// correctionPages are the templates in templates/ these pages add.
var correctionPages = []string{"correct", "correctreview", "withdraw"}

func (c *Console) correctionRoutes(mux *http.ServeMux) {
	mux.Handle("GET /posts/{id}/correct", c.auth(RoleAuthor, c.correctForm))
	mux.Handle("POST /posts/{id}/correct", c.auth(RoleAuthor, c.correctPost))
	mux.Handle("GET /posts/{id}/corrections/{rev}", c.auth(RoleAuthor, c.pendingCorrection))
	mux.Handle("POST /posts/{id}/corrections/{rev}/approve", c.auth(RoleEditor, c.approveCorrection))
	mux.Handle("GET /posts/{id}/withdraw", c.auth(RoleEditor, c.withdrawForm))
	mux.Handle("POST /posts/{id}/withdraw", c.auth(RoleEditor, c.withdrawPost))
}

// published reads the published post named in the path for a correction
// or withdrawal, answering 404 or a refusal itself.
func (c *Console) published(w http.ResponseWriter, r *http.Request, s Session) (store.StoredPost, Meta, bool, bool) {
	if c.opts.Corrections == nil {
		c.notFound(w, r, "correcting and withdrawing posts is not set up")
		return store.StoredPost{}, Meta{}, false, false
	}
	sp, err := c.opts.Store.Post(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		c.notFound(w, r, "no post has this id")
		return sp, Meta{}, false, false
	}
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return sp, Meta{}, false, false
	}
	m, isConsole, err := c.meta(r.Context(), sp.Post.ID)
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return sp, m, false, false
	}
	if sp.State != store.PostPublished {
		c.refuse(w, r, s, "Only a published post can be corrected or withdrawn; this one has not gone out. Change it with Edit instead.")
		return sp, m, isConsole, false
	}
	return sp, m, isConsole, true
}

// withOptions is published, for someone who may correct the post (when
// correcting) or withdraw it (the route admits editors only), with what
// each of its channels can do.
func (c *Console) withOptions(w http.ResponseWriter, r *http.Request, s Session, correcting bool) (store.StoredPost, []CorrectionChannel, bool) {
	sp, m, isConsole, ok := c.published(w, r, s)
	if !ok {
		return sp, nil, false
	}
	if correcting && !mayCorrect(s, m, isConsole) {
		c.refuse(w, r, s, "Only its author or an editor can correct this post.")
		return sp, nil, false
	}
	opts, err := c.opts.Corrections.Options(r.Context(), sp.Post.ID)
	if err != nil {
		c.serverError(w, r, "reading what each channel can do", err)
		return sp, nil, false
	}
	recs, err := c.opts.Corrections.History(r.Context(), sp.Post.ID)
	if err != nil {
		c.serverError(w, r, "reading the post's corrections", err)
		return sp, nil, false
	}
	gone := withdrawnFrom(recs)
	for i, o := range opts {
		if at, ok := gone[o.Channel]; ok {
			o.CanCorrect, o.CanWithdraw, o.Styles, o.MailOptional = false, false, nil, false
			o.Refusal = "It was withdrawn from " + o.Channel + " (" + c.showTime(at) + "): nothing is left there to change."
		}
		o.How, o.WithdrawHow, o.Refusal = sentence(o.How), sentence(o.WithdrawHow), sentence(o.Refusal)
		opts[i] = o
	}
	return sp, opts, true
}

// withdrawnFrom names the channels a withdrawal was queued for or done on,
// with when: there is nothing left there to correct or withdraw.
func withdrawnFrom(recs []CorrectionRecord) map[string]time.Time {
	out := map[string]time.Time{}
	for _, rec := range recs {
		if rec.Kind != "withdrawal" {
			continue
		}
		for _, res := range rec.Results {
			if res.State == "queued" || res.State == "done" {
				out[res.Channel] = rec.At
			}
		}
	}
	return out
}

// sentence is a daemon's phrase as the pages show it: a capital first
// letter and a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.ContainsRune(".!?", rune(s[len(s)-1])) {
		s += "."
	}
	return s
}

// publishedRefusal says a published post cannot be edited, and how to
// change it where it went out.
func (c *Console) publishedRefusal() string {
	msg := "This post has been published; it can no longer be changed."
	if c.opts.Corrections != nil {
		msg += " To fix it where it went out, use Correct everywhere on its page."
	}
	return msg
}

// mayCorrect: editors correct any post, an author their own console post.
func mayCorrect(s Session, m Meta, isConsole bool) bool {
	return s.User.Role.Can(RoleEditor) || isConsole && m.AuthorID == s.User.ID
}

// correctionChoice is one channel on the correction form.
type correctionChoice struct {
	CorrectionChannel
	Chosen bool
	Style  channels.CorrectionStyle
}

// StyleChoices are the channel's correction styles with their
// consequences, the chosen one marked.
func (ch correctionChoice) StyleChoices() []styleChoice {
	var out []styleChoice
	for _, st := range ch.Styles {
		out = append(out, styleChoice{Value: string(st), Label: styleLabel(st), Checked: st == ch.Style})
	}
	return out
}

type styleChoice struct {
	Value, Label string
	Checked      bool
}

// styleLabel says what a correction style does, and what it loses.
func styleLabel(st channels.CorrectionStyle) string {
	switch st {
	case channels.CorrectByReply:
		return "Reply to the post saying what was corrected: its likes, reposts and replies stay."
	case channels.CorrectByRepost:
		return "Delete it and post the corrected version again: it gets a new address, and its likes, reposts, replies and quotes are lost."
	case channels.CorrectInPlace:
		return "Edit it in place."
	}
	return string(st)
}

// correction is the correction form as an organiser filled it in.
type correction struct {
	Form     postForm
	Note     string
	Channels []correctionChoice
	Mail     bool
	// FromSource: prefilled from the source that changed since publishing.
	FromSource bool
}

// chosen lists the channels ticked.
func (k correction) chosen() []correctionChoice {
	var out []correctionChoice
	for _, ch := range k.Channels {
		if ch.Chosen {
			out = append(out, ch)
		}
	}
	return out
}

// correctForm shows the write form prefilled with the post (or with its
// changed source: ?from=source), the note and each channel's choices.
func (c *Console) correctForm(w http.ResponseWriter, r *http.Request, s Session) {
	sp, opts, ok := c.withOptions(w, r, s, true)
	if !ok {
		return
	}
	p, from := sp.Post, false
	if r.URL.Query().Get("from") == "source" {
		changed, now, err := c.opts.Corrections.Changed(r.Context(), sp.Post.ID)
		if err != nil {
			c.serverError(w, r, "reading the post's source", err)
			return
		}
		if changed {
			p, from = withFields(sp.Post, now), true
		}
	}
	k := correction{Form: c.formFromPost(p), FromSource: from}
	k.Form.Revision = revision(sp.Post)
	for _, o := range opts {
		k.Channels = append(k.Channels, correctionChoice{CorrectionChannel: o, Chosen: o.CanCorrect, Style: firstStyle(o)})
	}
	c.render(w, r, s, "correct", map[string]any{"Post": sp.Post, "K": k, "Pending": c.needsApproval(s)})
}

// withFields is the published post p with what readers get taken from
// now (the changed source): its identity and time stay.
func withFields(p, now post.Post) post.Post {
	p.Title, p.Summary, p.Body, p.Link, p.Tags = now.Title, now.Summary, now.Body, now.Link, now.Tags
	p.Image, p.Language, p.ContentWarning, p.Channels = now.Image, now.Language, now.ContentWarning, now.Channels
	return p
}

func firstStyle(o CorrectionChannel) channels.CorrectionStyle {
	if len(o.Styles) > 0 {
		return o.Styles[0]
	}
	return channels.CorrectInPlace
}

// needsApproval: an author's correction waits for an editor when
// console.require_approval is on, as their posts do.
func (c *Console) needsApproval(s Session) bool {
	return c.opts.RequireApproval && !s.User.Role.Can(RoleEditor)
}

// correctPost handles the form's steps: review (the previews side by side
// and the confirmation naming each channel), edit (back to the form with
// what was written) and, with confirm=yes, the correction itself.
func (c *Console) correctPost(w http.ResponseWriter, r *http.Request, s Session) {
	sp, opts, ok := c.withOptions(w, r, s, true)
	if !ok {
		return
	}
	ctx := r.Context()
	k, corrected, problems := c.readCorrection(r, sp.Post, opts)
	if r.PostFormValue("step") == "edit" {
		c.render(w, r, s, "correct", map[string]any{"Post": sp.Post, "K": k, "Pending": c.needsApproval(s)})
		return
	}
	if len(problems) > 0 {
		k.Form.Problems = problems
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.render(w, r, s, "correct", map[string]any{"Post": sp.Post, "K": k, "Pending": c.needsApproval(s)})
		return
	}
	if !confirmed(r) {
		c.render(w, r, s, "correctreview", c.reviewData(ctx, s, sp.Post, corrected, k))
		return
	}
	req := CorrectionRequest{PostID: sp.Post.ID, Corrected: corrected, Note: k.Note, Mail: k.Mail,
		By: s.User.Email, Pending: c.needsApproval(s), Styles: map[string]channels.CorrectionStyle{}}
	for _, ch := range k.chosen() {
		req.Channels = append(req.Channels, ch.Channel)
		if len(ch.Styles) > 1 {
			req.Styles[ch.Channel] = ch.Style
		}
	}
	rev, err := c.opts.Corrections.Correct(ctx, req)
	if err != nil {
		data := c.reviewData(ctx, s, sp.Post, corrected, k)
		data["Problem"] = "The correction was not queued: " + err.Error()
		w.WriteHeader(http.StatusConflict)
		c.render(w, r, s, "correctreview", data)
		return
	}
	action, done := "correction queued", "corrected"
	if req.Pending {
		action, done = "correction submitted for approval", "correction-submitted"
	}
	detail := fmt.Sprintf("revision %d, on %s: %s", rev, strings.Join(req.Channels, ", "), k.Note)
	if err := addEvent(ctx, c.db(), sp.Post.ID, c.opts.Now(), s.User.Email, action, detail); err != nil {
		c.serverError(w, r, "recording the correction", err)
		return
	}
	if req.Pending {
		c.notify(ctx, Notice{Event: NoticeSubmitted, PostID: sp.Post.ID, Actor: s.User.Email, Detail: "a correction: " + k.Note})
	}
	redirectDone(w, r, sp.Post.ID, done)
}

// readCorrection reads the form: the corrected post (an image chosen now
// is stored, so the next step carries it by name), the note and the
// channels' choices; problems name what to fix.
func (c *Console) readCorrection(r *http.Request, was post.Post, opts []CorrectionChannel) (correction, post.Post, map[string]string) {
	corrected, problems := c.postFromForm(r, was)
	img, err := c.saveUpload(r)
	if err != nil {
		problems["image"] = err.Error()
	} else if img != nil {
		img.Alt = strings.TrimSpace(r.PostFormValue("alt"))
		corrected.Image = img
	}
	k := correction{Form: c.formFromPost(corrected), Note: strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("note"), "\r\n", "\n")),
		FromSource: r.PostFormValue("from") == "source"}
	k.Form.Revision = r.PostFormValue("revision")
	switch {
	case k.Note == "":
		problems["note"] = "Say in a few words what was corrected: readers see it."
	case utf8.RuneCountInString(k.Note) > maxNote:
		problems["note"] = fmt.Sprintf("The note is longer than %d characters; Bluesky's correction reply must hold it.", maxNote)
	}
	ticked := r.PostForm["channel"]
	for _, o := range opts {
		ch := correctionChoice{CorrectionChannel: o, Chosen: slices.Contains(ticked, o.Channel), Style: firstStyle(o)}
		if st := channels.CorrectionStyle(r.PostFormValue("style_" + o.Channel)); slices.Contains(o.Styles, st) {
			ch.Style = st
		}
		if ch.Chosen && !o.CanCorrect {
			problems["channels"] = o.Channel + " cannot be corrected: " + o.Refusal
		}
		k.Mail = k.Mail || ch.Chosen && o.MailOptional && r.PostFormValue("mail") == "yes"
		k.Channels = append(k.Channels, ch)
	}
	if len(k.chosen()) == 0 && problems["channels"] == "" {
		problems["channels"] = "Choose at least one channel to correct."
	}
	if revision(corrected) == revision(was) && problems["title"] == "" {
		problems["body"] = "Nothing was changed: change what was wrong first."
	}
	if k.Form.Revision != revision(was) {
		// Corrected by someone else since this form was opened: the
		// organiser's text stays, over the post as it is now.
		problems["revision"] = "This post was corrected by someone else since you opened this form: check your correction against it."
		k.Form.Revision = revision(was)
	}
	return k, corrected, problems
}

// reviewChannel is one chosen channel on the review page: what happens
// there, and its preview before and after.
type reviewChannel struct {
	Name, How, Style string
	Before, After    *channelPreview
}

// manualChannel is a channel the correction leaves as it is, and why.
type manualChannel struct{ Name, Why string }

// reviewData is the review page: each chosen channel's previews side by
// side, the correction mail, the channels left alone, and the confirm
// form carrying everything written.
func (c *Console) reviewData(ctx context.Context, s Session, was, corrected post.Post, k correction) map[string]any {
	before, after := byChannel(c.previewsFor(ctx, s, was)), byChannel(c.previewsFor(ctx, s, corrected))
	var chosen, names []string
	var review []reviewChannel
	var manual []manualChannel
	recipients := 0
	for _, ch := range k.Channels {
		if !ch.Chosen {
			why := "You chose not to correct it here."
			if ch.Refusal != "" {
				why = ch.Refusal
			}
			manual = append(manual, manualChannel{Name: ch.Channel, Why: why})
			continue
		}
		rc := reviewChannel{Name: ch.Channel, How: ch.How, Before: before[ch.Channel], After: after[ch.Channel]}
		if len(ch.Styles) > 1 {
			rc.Style = styleLabel(ch.Style)
		}
		if ch.MailOptional && k.Mail {
			recipients = ch.Recipients
		}
		review = append(review, rc)
		chosen = append(chosen, ch.Channel)
		names = append(names, title(ch.Channel))
	}
	button := "Correct on " + joinAnd(names)
	if c.needsApproval(s) {
		button = "Send the correction on " + joinAnd(names) + " to an editor"
	}
	if k.Mail {
		button += fmt.Sprintf(", and mail %d supporters", recipients)
	}
	data := map[string]any{"Post": was, "Corrected": corrected, "K": k, "Review": review, "Manual": manual,
		"Recipients": recipients, "Button": button, "Pending": c.needsApproval(s),
		"Hidden": correctionFields(k, chosen)}
	if k.Mail {
		data["MailPreview"] = c.correctionMail(ctx, s, CorrectionRequest{PostID: was.ID, Corrected: corrected, Note: k.Note,
			Channels: chosen, Mail: true, By: s.User.Email})
	}
	return data
}

// correctionMail draws the newsletter's correction mail when the daemon
// can (CorrectionMailPreviewer); nil when it cannot, and the page says in
// words what the mail holds.
func (c *Console) correctionMail(ctx context.Context, s Session, req CorrectionRequest) *channelPreview {
	mp, ok := c.opts.Corrections.(CorrectionMailPreviewer)
	if !ok {
		return nil
	}
	cp := &channelPreview{Channel: "correction mail", Type: "email"}
	card, err := mp.CorrectionMail(ctx, req)
	if err != nil {
		cp.Error = err.Error()
		return cp
	}
	c.drawCard(s, cp, card)
	return cp
}

func byChannel(ps []channelPreview) map[string]*channelPreview {
	out := map[string]*channelPreview{}
	for i := range ps {
		out[ps[i].Channel] = &ps[i]
	}
	return out
}

// hiddenField is one field the confirm form sends again.
type hiddenField struct{ Name, Value string }

// correctionFields are the confirm form's hidden fields: the corrected
// post as the write form names its fields, the note and the choices.
func correctionFields(k correction, chosen []string) []hiddenField {
	f := k.Form
	out := []hiddenField{{"revision", f.Revision}, {"title", f.Title}, {"body", f.Body}, {"summary", f.Summary},
		{"link", f.Link}, {"tags", f.Tags}, {"alt", f.Alt}, {"image_name", f.ImageName},
		{"content_warning", f.ContentWarning}, {"language", f.Language}, {"note", k.Note}}
	if f.ImageURL == "" {
		out = append(out, hiddenField{"remove_image", "1"})
	}
	for _, ch := range f.Channels {
		out = append(out, hiddenField{"text_" + ch.Name, ch.Text})
		if ch.Skip {
			out = append(out, hiddenField{"skip_" + ch.Name, "1"})
		}
	}
	for _, ch := range k.Channels {
		if len(ch.Styles) > 1 {
			out = append(out, hiddenField{"style_" + ch.Channel, string(ch.Style)})
		}
	}
	for _, name := range chosen {
		out = append(out, hiddenField{"channel", name})
	}
	if k.Mail {
		out = append(out, hiddenField{"mail", "yes"})
	}
	if k.FromSource {
		out = append(out, hiddenField{"from", "source"})
	}
	return out
}

// joinAnd names things as a sentence does: "A", "A and B", "A, B and C".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// recordView is one correction or withdrawal as the post page lists it.
type recordView struct {
	CorrectionRecord
	Pending bool
	Results []resultView
}

// resultView is one channel's result, its parts said in words.
type resultView struct {
	CorrectionResult
	Parts []partOutcome
}

// partOutcome is what happened to one part: Text in words, URL (checked)
// where the network shows it.
type partOutcome struct{ Text, URL, Note string }

// outcomeWords says a part's outcome as organisers read it.
var outcomeWords = map[channels.Outcome]string{
	channels.OutcomeEdited: "edited", channels.OutcomeUnchanged: "already corrected",
	channels.OutcomeReplied: "correction reply posted", channels.OutcomeReposted: "deleted and posted again",
	channels.OutcomeDeleted: "deleted", channels.OutcomeGone: "already deleted",
}

func viewRecord(rec CorrectionRecord) recordView {
	v := recordView{CorrectionRecord: rec, Pending: rec.State == stateAwaitingApproval}
	for _, res := range rec.Results {
		rv := resultView{CorrectionResult: res}
		for _, p := range res.Parts {
			o := partOutcome{Text: outcomeWords[p.Outcome], Note: p.Note}
			if o.Text == "" {
				o.Text = string(p.Outcome)
			}
			if len(res.Parts) > 1 {
				o.Text = fmt.Sprintf("part %d %s", p.Index+1, o.Text)
			}
			if safeURL(p.RemoteURL) {
				o.URL = p.RemoteURL
			}
			rv.Parts = append(rv.Parts, o)
		}
		v.Results = append(v.Results, rv)
	}
	return v
}

// correctionsData is what the post page shows of corrections: whether
// the signed-in person may correct or withdraw it, whether its source
// changed since it went out, and its history of corrections.
func (c *Console) correctionsData(ctx context.Context, s Session, sp store.StoredPost, m Meta, isConsole bool, data map[string]any) {
	if c.opts.Corrections == nil {
		return
	}
	published := sp.State == store.PostPublished
	data["CanCorrect"] = published && mayCorrect(s, m, isConsole)
	data["CanWithdraw"] = published && s.User.Role.Can(RoleEditor)
	if published {
		if changed, _, err := c.opts.Corrections.Changed(ctx, sp.Post.ID); err != nil {
			c.opts.Logger.Warn("console: reading whether a post's source changed", "post", sp.Post.ID, "err", err)
		} else {
			data["Changed"] = changed
		}
	}
	recs, err := c.opts.Corrections.History(ctx, sp.Post.ID)
	if err != nil {
		c.opts.Logger.Warn("console: reading a post's corrections", "post", sp.Post.ID, "err", err)
		data["CorrectionsError"] = true
		return
	}
	var views []recordView
	for _, rec := range recs {
		views = append(views, viewRecord(rec))
	}
	data["Corrections"] = views
	// Withdrawn from every channel it went out on: nothing is left to
	// correct or withdraw.
	if dels, _ := data["Deliveries"].([]deliveryView); len(dels) > 0 {
		gone := withdrawnFrom(recs)
		all := true
		for _, d := range dels {
			_, ok := gone[d.Channel]
			all = all && ok
		}
		if all {
			data["CanCorrect"], data["CanWithdraw"], data["Withdrawn"] = false, false, true
		}
	}
}

// stateAwaitingApproval is a correction's state until an editor approves it.
const stateAwaitingApproval = "awaiting approval"

// changedPosts marks, among the listed rows, the published posts whose
// source changed since they went out.
func (c *Console) changedPosts(ctx context.Context, rows []listRow) {
	if c.opts.Corrections == nil {
		return
	}
	for i, r := range rows {
		if r.State != stateSent && r.State != stateFailed && r.State != stateLocal && r.State != stateSending {
			continue
		}
		changed, _, err := c.opts.Corrections.Changed(ctx, r.ID)
		if err != nil {
			c.opts.Logger.Warn("console: reading whether a post's source changed", "post", r.ID, "err", err)
			continue
		}
		rows[i].Changed = changed
	}
}

// pendingCorrection shows one correction with its previews; for an editor
// it is where an author's correction is approved.
func (c *Console) pendingCorrection(w http.ResponseWriter, r *http.Request, s Session) {
	sp, rec, ok := c.correctionRecord(w, r, s)
	if !ok {
		return
	}
	data := map[string]any{"Post": sp.Post, "Rec": rec, "Approving": true, "Pending": rec.State == stateAwaitingApproval}
	var names []string
	for _, res := range rec.Results {
		names = append(names, title(res.Channel))
	}
	data["Button"] = "Approve: correct on " + joinAnd(names)
	if rec.Corrected != nil {
		before, after := byChannel(c.previewsFor(r.Context(), s, sp.Post)), byChannel(c.previewsFor(r.Context(), s, *rec.Corrected))
		var review []reviewChannel
		for _, res := range rec.Results {
			review = append(review, reviewChannel{Name: res.Channel, Before: before[res.Channel], After: after[res.Channel]})
		}
		data["Review"] = review
	}
	c.render(w, r, s, "correctreview", data)
}

// correctionRecord finds the correction the path names in the post's
// history, answering 404 itself.
func (c *Console) correctionRecord(w http.ResponseWriter, r *http.Request, s Session) (store.StoredPost, CorrectionRecord, bool) {
	sp, _, _, ok := c.published(w, r, s)
	if !ok {
		return sp, CorrectionRecord{}, false
	}
	rev, err := strconv.Atoi(r.PathValue("rev"))
	if err != nil {
		c.notFound(w, r, "no correction has this number")
		return sp, CorrectionRecord{}, false
	}
	recs, err := c.opts.Corrections.History(r.Context(), sp.Post.ID)
	if err != nil {
		c.serverError(w, r, "reading the post's corrections", err)
		return sp, CorrectionRecord{}, false
	}
	for _, rec := range recs {
		if rec.Kind == "correction" && rec.Revision == rev {
			return sp, rec, true
		}
	}
	c.notFound(w, r, "this post has no correction with this number")
	return sp, CorrectionRecord{}, false
}

// approveCorrection lets an author's pending correction go out. The
// revision in the path is the correction the editor read.
func (c *Console) approveCorrection(w http.ResponseWriter, r *http.Request, s Session) {
	sp, rec, ok := c.correctionRecord(w, r, s)
	if !ok {
		return
	}
	if rec.State != stateAwaitingApproval {
		c.refuse(w, r, s, "This correction is not awaiting approval; it is "+rec.State+".")
		return
	}
	if err := c.opts.Corrections.Approve(r.Context(), sp.Post.ID, rec.Revision, s.User.Email); err != nil {
		w.WriteHeader(http.StatusConflict)
		c.renderPost(w, r, s, sp.Post.ID, "The correction was not approved: "+err.Error())
		return
	}
	if err := addEvent(r.Context(), c.db(), sp.Post.ID, c.opts.Now(), s.User.Email, "correction approved",
		fmt.Sprintf("revision %d by %s", rec.Revision, rec.By)); err != nil {
		c.serverError(w, r, "recording the approval", err)
		return
	}
	redirectDone(w, r, sp.Post.ID, "correction-approved")
}

// withdrawChoice is one channel on the withdraw form.
type withdrawChoice struct {
	CorrectionChannel
	Chosen bool
}

// What is the channel's withdrawal in plain words.
func (ch withdrawChoice) What() string {
	if ch.WithdrawHow != "" {
		return ch.WithdrawHow
	}
	return "What Crier sent to " + ch.Channel + " is deleted there."
}

// withdrawForm asks which channels to withdraw the post from, and why.
func (c *Console) withdrawForm(w http.ResponseWriter, r *http.Request, s Session) {
	sp, opts, ok := c.withOptions(w, r, s, false)
	if !ok {
		return
	}
	var chs []withdrawChoice
	for _, o := range opts {
		chs = append(chs, withdrawChoice{CorrectionChannel: o, Chosen: o.CanWithdraw})
	}
	c.render(w, r, s, "withdraw", map[string]any{"Post": sp.Post, "Channels": chs})
}

// withdrawPost checks the form, asks for confirmation naming each channel
// and, confirmed, queues the withdrawal.
func (c *Console) withdrawPost(w http.ResponseWriter, r *http.Request, s Session) {
	sp, opts, ok := c.withOptions(w, r, s, false)
	if !ok {
		return
	}
	ctx := r.Context()
	reason := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("reason"), "\r\n", "\n"))
	ticked := r.PostForm["channel"]
	if confirmed(r) {
		ticked = strings.Split(r.PostFormValue("channels"), ",")
	}
	var chs []withdrawChoice
	var chosen []withdrawChoice
	problem := ""
	for _, o := range opts {
		ch := withdrawChoice{CorrectionChannel: o, Chosen: slices.Contains(ticked, o.Channel)}
		if ch.Chosen && !o.CanWithdraw {
			problem = o.Channel + " cannot be withdrawn from: " + o.Refusal
		} else if ch.Chosen {
			chosen = append(chosen, ch)
		}
		chs = append(chs, ch)
	}
	switch {
	case reason == "":
		problem = "Say why it is withdrawn: the reason is kept in the post's history and shown where the newsletter's archive copy was."
	case utf8.RuneCountInString(reason) > maxReason:
		problem = fmt.Sprintf("The reason is longer than %d characters; please shorten it.", maxReason)
	case len(chosen) == 0 && problem == "":
		problem = "Choose at least one channel to withdraw the post from."
	}
	if problem != "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.render(w, r, s, "withdraw", map[string]any{"Post": sp.Post, "Channels": chs, "Reason": reason, "Problem": problem})
		return
	}
	var names, ids []string
	var consequences []string
	for _, ch := range chosen {
		names, ids = append(names, title(ch.Channel)), append(ids, ch.Channel)
		consequences = append(consequences, title(ch.Channel)+": "+ch.What())
	}
	sort.Strings(ids)
	if !confirmed(r) {
		consequences = append(consequences, "Anything still queued or scheduled for this post is cancelled. This cannot be undone: to publish it again, write it again.",
			"Your reason: “"+reason+"”")
		c.askFirst(w, r, s, question{
			Title:        "Withdraw “" + sp.Post.Title + "” from " + joinAnd(names) + "?",
			Consequences: consequences,
			Action:       "/posts/" + sp.Post.ID + "/withdraw",
			Fields:       map[string]string{"channels": strings.Join(ids, ","), "reason": reason},
			Button:       "Yes, withdraw from " + joinAnd(names), Back: "/posts/" + sp.Post.ID, BackLabel: "Keep it published",
		})
		return
	}
	if err := c.opts.Corrections.Withdraw(ctx, WithdrawRequest{PostID: sp.Post.ID, Channels: ids, Reason: reason, By: s.User.Email}); err != nil {
		w.WriteHeader(http.StatusConflict)
		c.renderPost(w, r, s, sp.Post.ID, "The post was not withdrawn: "+err.Error())
		return
	}
	if err := addEvent(ctx, c.db(), sp.Post.ID, c.opts.Now(), s.User.Email, "withdrawal queued",
		"from "+strings.Join(ids, ", ")+": "+reason); err != nil {
		c.serverError(w, r, "recording the withdrawal", err)
		return
	}
	redirectDone(w, r, sp.Post.ID, "withdrawn")
}
