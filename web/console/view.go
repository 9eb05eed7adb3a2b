package console

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// listState is a post's state as the posts list filters it.
type listState string

const (
	stateDraft     listState = "draft"
	stateReview    listState = "review"
	stateApproved  listState = "approved"
	stateScheduled listState = "scheduled"
	stateSending   listState = "sending"
	stateSent      listState = "sent"
	stateLocal     listState = "local"
	stateFailed    listState = "failed"
	stateOther     listState = "other"
)

var listStates = []struct{ Value, Label string }{
	{"", "All"}, {"draft", "Draft"}, {"review", "In review"}, {"approved", "Approved"}, {"scheduled", "Scheduled"},
	{"sending", "Sending"}, {"sent", "Sent"}, {"local", "Saved locally, not sent"}, {"failed", "Failed"},
}

var listSources = []struct{ Value, Label string }{
	{"", "All sources"}, {"console", "Console"}, {"markdown", "Markdown folder"}, {"feed", "Feeds"}, {"cli", "Command line"},
}

type listRow struct {
	ID, Title, Source, SourceName string
	State                         listState
	PublishAt, UpdatedAt          time.Time
	Chips                         []chip
	// Changed: published, and its source changed since (Corrections).
	Changed bool
	// Reach is what the post reached in total (reach.go); nil when it
	// did not go out or reach is not read.
	Reach *channels.Count
}

func (r listRow) StateLabel() string { return stateLabel(r.State) }

func stateLabel(s listState) string {
	for _, x := range listStates {
		if x.Value == string(s) {
			return x.Label
		}
	}
	switch s {
	case "example":
		return "Example (outbox only)"
	case "withdrawn":
		return "Withdrawn"
	case "duplicate":
		return "Duplicate"
	}
	return "Recorded"
}

const pageSize = 50

func (c *Console) postsList(w http.ResponseWriter, r *http.Request, s Session) {
	q := r.URL.Query()
	state, source, search := q.Get("state"), q.Get("source"), strings.TrimSpace(q.Get("q"))
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	rows, more, err := c.listPostsMatching(r.Context(), state, source, search, page)
	if err != nil {
		c.serverError(w, r, "listing posts", err)
		return
	}
	c.changedPosts(r.Context(), rows)
	c.withReach(r.Context(), rows)
	data := map[string]any{"Rows": rows, "State": state, "Source": source, "States": listStates,
		"Sources": listSources, "Page": page, "More": more, "Q": search,
		"PrevURL": listURL(state, source, search, page-1), "NextURL": listURL(state, source, search, page+1)}
	if q.Get("deleted") != "" {
		data["Notice"] = "The draft was deleted."
	}
	c.render(w, r, s, "posts", data)
}

func listURL(state, source, search string, page int) string {
	v := url.Values{}
	if search != "" {
		v.Set("q", search)
	}
	if state != "" {
		v.Set("state", state)
	}
	if source != "" {
		v.Set("source", source)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/posts"
	}
	return "/posts?" + v.Encode()
}

// listPosts reads one page of the posts list, newest first. Feed items only
// recorded as seen (the back catalogue) are left out.
func (c *Console) listPosts(ctx context.Context, state, source string, page int) ([]listRow, bool, error) {
	return c.listPostsMatching(ctx, state, source, "", page)
}

// listPostsMatching is listPosts of the posts whose title or text contains
// search (case-insensitively; all when it is empty).
func (c *Console) listPostsMatching(ctx context.Context, state, source, search string, page int) ([]listRow, bool, error) {
	q := store.PostQuery{Source: source, Search: search, Offset: (page - 1) * pageSize, Limit: pageSize}
	switch s := listState(state); s {
	case "":
	case stateReview, stateApproved, stateDraft:
		// The review queue is the console's: its ids narrow the store's drafts.
		q.Status = store.Status(store.PostDraft)
		var err error
		if s == stateDraft {
			q.Except, err = c.postsInWorkflow(ctx, WorkflowReview, WorkflowApproved)
		} else {
			q.Only, err = c.postsInWorkflow(ctx, Workflow(s))
		}
		if err != nil {
			return nil, false, err
		}
	case stateScheduled:
		q.Status = store.Status(store.PostScheduled)
	case stateFailed, stateSending, stateSent, stateLocal:
		q.Status = store.Status(s)
	default:
		return nil, false, nil
	}
	rows, more, err := c.opts.Store.ListPosts(ctx, q)
	if err != nil {
		return nil, false, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	wfs, err := c.workflows(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	out := make([]listRow, 0, len(rows))
	for _, r := range rows {
		x := listRow{ID: r.ID, Title: r.Title, Source: r.SourceKind, SourceName: r.SourceName,
			State: stateOf(r.Status, wfs[r.ID]), PublishAt: r.PublishAt, UpdatedAt: r.UpdatedAt}
		for _, d := range r.Deliveries {
			ch := chip{Channel: d.Channel, State: string(d.State)}
			if d.Outbox && d.State == store.DeliverySent {
				ch.Local = c.localReason(d.Channel)
			}
			x.Chips = append(x.Chips, ch)
		}
		out = append(out, x)
	}
	return out, more, nil
}

// stateOf is the listState of a post with the store's status st and the
// console's workflow wf ("" for posts of other sources): the console's
// review and approval come before the store's draft.
func stateOf(st store.Status, wf Workflow) listState {
	switch {
	case st == store.Status(store.PostScheduled) || st == store.StatusFailed || st == store.StatusSending ||
		st == store.StatusSent || st == store.StatusLocal:
		return listState(st)
	case wf == WorkflowReview || wf == WorkflowApproved:
		return listState(wf)
	}
	return listState(st)
}

// failedPosts counts the posts with a delivery failed for good, for the
// navigation; zero when it cannot tell (the page still shows).
func (c *Console) failedPosts(ctx context.Context) int {
	n, err := c.opts.Store.CountStatus(ctx, store.StatusFailed)
	if err != nil {
		c.opts.Logger.Warn("console: counting failed posts", "err", err)
		return 0
	}
	return n
}

// deliveryView is one channel's delivery as the post page shows it.
type deliveryView struct {
	store.Delivery
	Problem, Fix string
	// Local is why the delivery was only saved locally ("" when it left).
	Local    string
	Parts    []partView
	Progress *progress
}

type partView struct {
	Index int
	URL   string
}

// progress is a newsletter send's counts; Warning tells organisers of a
// sending problem (a domain refusing the mail as spam, a complaint rate
// over the limit).
type progress struct {
	Sent, Failed, Total int
	Warning             string
}

func (p progress) Percent() int {
	if p.Total == 0 {
		return 0
	}
	return (p.Sent + p.Failed) * 100 / p.Total
}

func (c *Console) postPage(w http.ResponseWriter, r *http.Request, s Session) {
	c.renderPost(w, r, s, r.PathValue("id"), "")
}

// postLive is what the post page's script polls while a delivery is under
// way: the post's state and its channels, as the page shows them.
func (c *Console) postLive(w http.ResponseWriter, r *http.Request, s Session) {
	if data, ok := c.postData(w, r, s, r.PathValue("id"), ""); ok {
		w.Header().Set("Cache-Control", "no-store")
		c.renderIn(w, r, s, "post", "post-live", data)
	}
}

// renderPost shows a post with its deliveries, history and actions; notice
// is a message for the organiser at the top.
func (c *Console) renderPost(w http.ResponseWriter, r *http.Request, s Session, id, notice string) {
	data, ok := c.postData(w, r, s, id, notice)
	if !ok {
		return
	}
	if notice != "" && strings.HasPrefix(notice, "The test copy could not") {
		w.WriteHeader(http.StatusBadGateway)
	}
	// The Reach panel is the page's, not the live part's: polling a
	// delivery does not read reach each time.
	data["Reach"], data["ReachProblem"] = c.reachViews(r.Context(), id)
	c.render(w, r, s, "post", data)
}

// postData is what the post page shows; false when it answered with an
// error page instead.
func (c *Console) postData(w http.ResponseWriter, r *http.Request, s Session, id, notice string) (map[string]any, bool) {
	ctx := r.Context()
	sp, err := c.opts.Store.Post(ctx, id)
	if err != nil {
		c.notFound(w, r, "no post has this id")
		return nil, false
	}
	m, isConsole, err := c.meta(ctx, id)
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return nil, false
	}
	if isConsole && sp.State == store.PostPublished {
		m.Workflow = WorkflowPublished
	}
	dels, err := c.opts.Store.Deliveries(ctx, id)
	if err != nil {
		c.serverError(w, r, "reading the deliveries", err)
		return nil, false
	}
	if notice == "" {
		notice = c.doneNotice(r, sp)
	}
	previews := c.previewsFor(ctx, s, sp.Post)
	docsOf := map[string]string{} // each enabled channel's page in docs/
	for _, p := range previews {
		docsOf[p.Channel] = p.Docs
	}
	var views []deliveryView
	live := false
	for _, d := range dels {
		live = live || d.State == store.DeliveryPending || d.State == store.DeliverySending
		v := deliveryView{Delivery: d}
		if d.Outbox && d.State == store.DeliverySent {
			v.Local = c.localReason(d.Channel)
		}
		if showsError(d) {
			v.Problem, v.Fix = explain(d, docsOf[d.Channel])
		}
		v.Parts = c.parts(ctx, id, d.Channel)
		v.Progress = c.sendProgress(ctx, d.Channel, id)
		views = append(views, v)
	}
	events, err := c.events(ctx, id)
	if err != nil {
		c.serverError(w, r, "reading the history", err)
		return nil, false
	}
	events = withSchedulePublish(events, sp)
	state := listState("other")
	if st, err := c.opts.Store.PostStatus(ctx, id); err == nil {
		wf := Workflow("")
		if isConsole {
			wf = m.Workflow
		}
		state = stateOf(st, wf)
	}
	canGo := false
	if isConsole && s.User.Role.Can(RoleEditor) {
		canGo, _ = c.approved(ctx, m)
	}
	data := map[string]any{
		"Post": sp.Post, "Stored": sp, "Meta": m, "IsConsole": isConsole, "Deliveries": views, "Events": events,
		"State": state, "StateLabel": stateLabel(state), "Notice": notice, "CanGo": canGo,
		"CanEdit":  isConsole && m.Workflow != WorkflowPublished && c.mayEdit(s, m),
		"Previews": previews, "ScheduleFor": c.defaultScheduleFor(sp.Post),
		// Outbox-only email has no mail server to send a test copy through.
		"HasNewsletter": c.canSendTest(previews),
		// Approve, Schedule and Publish act on this version only.
		"Revision": revision(sp.Post),
		// An unscheduled post can go back to its time in one click.
		"Reschedule": c.rescheduleAt(sp, m),
		// While a delivery is under way the page's script follows it.
		"Live": live || sp.State == store.PostScheduled && !sp.Post.PublishAt.After(c.opts.Now().Add(time.Minute)),
	}
	_, data["CanCheck"] = c.opts.Publisher.(UnknownResolver)
	data["SentBack"] = lastSentBack(events, m)
	data["CanDelete"] = isConsole && c.whyNotDeletable(s, sp, m) == ""
	c.correctionsData(ctx, s, sp, m, isConsole, data)
	return data, true
}

// withSchedulePublish adds to a post's history the moment the daemon
// published it on schedule (the console records what people do; the bot
// records when it published).
func withSchedulePublish(events []Event, sp store.StoredPost) []Event {
	if sp.State != store.PostPublished || sp.PublishedAt.IsZero() {
		return events
	}
	for _, e := range events {
		if e.Action == "published" {
			return events
		}
	}
	at := sp.PublishedAt
	i := len(events)
	for i > 0 && events[i-1].At.After(at) {
		i--
	}
	e := Event{At: at, Actor: "Crier", Action: "published on schedule"}
	return append(events[:i], append([]Event{e}, events[i:]...)...)
}

// rescheduleAt is the time an unscheduled post was going out, while it is
// still to come; "" otherwise.
func (c *Console) rescheduleAt(sp store.StoredPost, m Meta) string {
	if m.Workflow != WorkflowCancelled || sp.State != store.PostDraft || !sp.Post.PublishAt.After(c.opts.Now()) {
		return ""
	}
	return c.formatWhen(sp.Post.PublishAt)
}

func (c *Console) defaultScheduleFor(p post.Post) string {
	// An unscheduled post keeps its time: it is offered again.
	if p.PublishAt.After(c.opts.Now()) {
		return c.formatWhen(p.PublishAt)
	}
	return c.formatWhen(c.opts.Now().In(c.opts.Location).Add(time.Hour).Truncate(time.Hour))
}

func (c *Console) parts(ctx context.Context, postID, channel string) []partView {
	ps, err := c.opts.Store.Parts(ctx, postID, channel)
	if err != nil {
		return nil
	}
	var out []partView
	for _, p := range ps {
		if safeURL(p.RemoteURL) {
			out = append(out, partView{Index: p.Index, URL: p.RemoteURL})
		}
	}
	return out
}

// sendProgress is a post's send on a channel that tracks its sends itself
// (the newsletter's per-recipient progress: sent / total), or nil.
func (c *Console) sendProgress(ctx context.Context, channel, postID string) *progress {
	if c.opts.SendReport == nil {
		return nil
	}
	p, ok := c.opts.SendReport(ctx, channel, postID)
	if !ok {
		return nil
	}
	return &progress{Sent: p.Sent, Failed: p.Failed, Total: p.Total, Warning: p.Warning}
}

// explain says in plain words what the class of a delivery's last failure
// (the engine's channels.Kind, recorded in the ledger) means and what to do;
// the error itself names the detail. page is the channel's page in docs/,
// which explains its settings ("" for configuration.md).
func explain(d store.Delivery, page string) (problem, fix string) {
	ch, docs := d.Channel, "docs/"+cmp.Or(page, "configuration.md")
	switch d.ErrorKind {
	case channels.KindPermanent.String():
		refused := "The " + ch + " server refused the post, so Crier will not try again by itself."
		if authRefused.MatchString(d.LastError) {
			what := "the post"
			if strings.Contains(d.LastError, "uploading image") {
				what = "the post's image"
			}
			return refused, "It did not accept the account's access token when Crier sent " + what +
				": the token was revoked, expired or lacks the permission to post. Make a new token (" + docs +
				" says how), set it for channels." + ch + " and restart Crier, then press Retry."
		}
		return refused,
			"Fix what the error below names (most often the account's token or permissions, see " + docs + ", or the post's content), then press Retry."
	case channels.KindRateLimited.String():
		return ch + " asked Crier to slow down.", "Nothing to do: Crier tries again by itself."
	case channels.KindAmbiguous.String():
		if d.WaitsForCheck() {
			return "Crier cannot tell whether " + ch + " received the post, and " + ch + " cannot be asked (" + docs + ", “Exactly once”).",
				"Look in the channel: if the post is there, press It went out; if it is missing, press Send again. Crier will not send it again by itself."
		}
		return "Crier could not tell whether " + ch + " received the post.", "Crier checks before sending again; press Retry if it stays failed."
	case channels.KindTemporary.String():
		if d.State != store.DeliveryFailed {
			return "The last attempt to reach " + ch + " failed.", "Nothing to do yet: Crier tries again by itself."
		}
		return "Crier tried several times and the " + ch + " server kept failing or could not be reached.",
			"Check that the service is up and that its address in config.yaml is right (see " + docs + "), then press Retry."
	}
	return "The last attempt to deliver to " + ch + " failed.", "Read the error below; fix what it names, then press Retry."
}

// showsError reports whether a delivery's last error is still news: it
// failed, or Crier is waiting to try again by itself (rate limit, outage).
// A delivery someone retried after a refusal no longer shows the refusal.
func showsError(d store.Delivery) bool {
	switch {
	case d.LastError == "" || d.State == store.DeliverySent:
		return false
	case d.State == store.DeliveryFailed || d.State == store.DeliveryUnknown:
		return true
	}
	return d.ErrorKind == channels.KindRateLimited.String() || d.ErrorKind == channels.KindTemporary.String()
}

// authRefused matches a refusal of the channel's credentials (HTTP 401 or
// 403) in a delivery's error, as "permanent: status 1 of 1: uploading
// image: 401" or "permanent: 401 The access token is invalid".
var authRefused = regexp.MustCompile(`(?:^|: )(?:401|403)\b`)

// safeURL admits only http(s) links into href attributes.
func safeURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (c *Console) showTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(c.opts.Location).Format("Mon 2 Jan 2006 15:04 MST")
}
