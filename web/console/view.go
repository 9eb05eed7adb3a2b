package console

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/sqldb"
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
	stateFailed    listState = "failed"
	stateOther     listState = "other"
)

var listStates = []struct{ Value, Label string }{
	{"", "All"}, {"draft", "Draft"}, {"review", "In review"}, {"approved", "Approved"}, {"scheduled", "Scheduled"},
	{"sending", "Sending"}, {"sent", "Sent"}, {"failed", "Failed"},
}

var listSources = []struct{ Value, Label string }{
	{"", "All sources"}, {"console", "Console"}, {"markdown", "Markdown folder"}, {"feed", "Feeds"}, {"cli", "Command line"},
}

// stateSQL computes listState in SQL from the post's state, its console
// workflow and its deliveries, so that the list filters in the database.
const stateSQL = `CASE
	WHEN p.state = 'published' THEN CASE
		WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = p.id AND d.state = 'failed') THEN 'failed'
		WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = p.id AND d.state <> 'sent') THEN 'sending'
		ELSE 'sent' END
	WHEN p.state = 'scheduled' THEN 'scheduled'
	WHEN cp.workflow = 'review' THEN 'review'
	WHEN cp.workflow = 'approved' THEN 'approved'
	WHEN p.state = 'draft' THEN 'draft'
	ELSE p.state END`

// stateWhere selects the posts in each listState with conditions the
// indexes serve (stateSQL computes the same states for the rows shown).
// The unary + keeps SQLite from driving the query from the delivery list
// (thousands of row reads to sort): it scans the covering posts_updated
// index newest first and stops at a page, checking each id against the
// list built once.
var stateWhere = map[listState]string{
	stateFailed: `p.state = 'published' AND +p.id IN (SELECT post_id FROM deliveries WHERE state = 'failed')`,
	stateSending: `p.state = 'published' AND +p.id IN (SELECT post_id FROM deliveries WHERE state IN ('pending', 'sending', 'unknown'))
		AND +p.id NOT IN (SELECT post_id FROM deliveries WHERE state = 'failed')`,
	stateSent:      `p.state = 'published' AND +p.id NOT IN (SELECT post_id FROM deliveries WHERE state <> 'sent')`,
	stateScheduled: `p.state = 'scheduled'`,
	stateReview:    `p.state = 'draft' AND cp.workflow = 'review'`,
	stateApproved:  `p.state = 'draft' AND cp.workflow = 'approved'`,
	stateDraft:     `p.state = 'draft' AND COALESCE(cp.workflow, 'draft') NOT IN ('review', 'approved')`,
}

type listRow struct {
	ID, Title, Source, SourceName string
	State                         listState
	PublishAt, UpdatedAt          time.Time
	Deliveries                    string
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
	state, source := q.Get("state"), q.Get("source")
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	rows, more, err := c.listPosts(r.Context(), state, source, page)
	if err != nil {
		c.serverError(w, r, "listing posts", err)
		return
	}
	c.render(w, r, s, "posts", map[string]any{"Rows": rows, "State": state, "Source": source, "States": listStates,
		"Sources": listSources, "Page": page, "More": more,
		"PrevURL": listURL(state, source, page-1), "NextURL": listURL(state, source, page+1)})
}

func listURL(state, source string, page int) string {
	v := url.Values{}
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
	where := []string{"p.state NOT IN ('seen')"}
	var args []any
	if source != "" {
		args = append(args, source)
		where = append(where, fmt.Sprintf("p.source_kind = $%d", len(args)))
	}
	if state != "" {
		cond, ok := stateWhere[listState(state)]
		if !ok {
			return nil, false, nil
		}
		if sqldb.DialectOf(c.db()) == sqldb.Postgres {
			// The unary + is a hint for SQLite's planner only; PostgreSQL
			// has no + on text.
			cond = strings.ReplaceAll(cond, "+p.id", "p.id")
		}
		where = append(where, cond)
	}
	args = append(args, pageSize+1, (page-1)*pageSize)
	// The page of ids comes from the covering index on (updated_at, id,
	// state, source_kind); only the rows shown are read in full.
	query := fmt.Sprintf(`SELECT p.id, p.title, p.source_kind, p.source_name, %s, p.publish_at, p.updated_at,
		(SELECT %s FROM deliveries d WHERE d.post_id = p.id)
		FROM (SELECT p.id FROM posts p LEFT JOIN console_posts cp ON cp.post_id = p.id
			WHERE %s ORDER BY p.updated_at DESC, p.id DESC LIMIT $%d OFFSET $%d) AS page
		JOIN posts p ON p.id = page.id LEFT JOIN console_posts cp ON cp.post_id = p.id
		ORDER BY p.updated_at DESC, p.id DESC`, stateSQL,
		sqldb.DialectOf(c.db()).Pick(`group_concat(d.channel || ':' || d.state, ' ')`, `string_agg(d.channel || ':' || d.state, ' ')`),
		strings.Join(where, " AND "), len(args)-1, len(args))
	rows, err := c.db().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("listing posts: %w", err)
	}
	defer rows.Close()
	var out []listRow
	for rows.Next() {
		var x listRow
		var st string
		var dels sql.NullString
		if err := rows.Scan(&x.ID, &x.Title, &x.Source, &x.SourceName, &st, &x.PublishAt, &x.UpdatedAt, &dels); err != nil {
			return nil, false, fmt.Errorf("listing posts: %w", err)
		}
		x.State, x.Deliveries = listState(st), dels.String
		out = append(out, x)
	}
	more := len(out) > pageSize
	if more {
		out = out[:pageSize]
	}
	return out, more, rows.Err()
}

// deliveryView is one channel's delivery as the post page shows it.
type deliveryView struct {
	store.Delivery
	Problem, Fix string
	Parts        []partView
	Progress     *progress
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

// renderPost shows a post with its deliveries, history and actions; notice
// is a message for the organiser at the top.
func (c *Console) renderPost(w http.ResponseWriter, r *http.Request, s Session, id, notice string) {
	ctx := r.Context()
	sp, err := c.opts.Store.Post(ctx, id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	m, isConsole, err := c.meta(ctx, id)
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return
	}
	if isConsole && sp.State == store.PostPublished {
		m.Workflow = WorkflowPublished
	}
	dels, err := c.opts.Store.Deliveries(ctx, id)
	if err != nil {
		c.serverError(w, r, "reading the deliveries", err)
		return
	}
	var views []deliveryView
	live := false
	for _, d := range dels {
		live = live || d.State == store.DeliveryPending || d.State == store.DeliverySending
		v := deliveryView{Delivery: d}
		if d.LastError != "" && d.State != store.DeliverySent {
			v.Problem, v.Fix = explain(d.Channel, d.LastError)
		}
		v.Parts = c.parts(ctx, id, d.Channel)
		if d.Channel == "email" {
			v.Progress = c.newsletterProgress(ctx, id)
		}
		views = append(views, v)
	}
	events, err := c.events(ctx, id)
	if err != nil {
		c.serverError(w, r, "reading the history", err)
		return
	}
	events = withSchedulePublish(events, sp)
	state := listState("other")
	_ = c.db().QueryRowContext(ctx, `SELECT `+stateSQL+` FROM posts p LEFT JOIN console_posts cp ON cp.post_id = p.id WHERE p.id = $1`, id).Scan(&state)
	canGo := false
	if isConsole && s.User.Role.Can(RoleEditor) {
		canGo, _ = c.approved(ctx, m)
	}
	data := map[string]any{
		"Post": sp.Post, "Stored": sp, "Meta": m, "IsConsole": isConsole, "Deliveries": views, "Events": events,
		"State": state, "StateLabel": stateLabel(state), "Notice": notice, "CanGo": canGo,
		"CanEdit":  isConsole && m.Workflow != WorkflowPublished && c.mayEdit(s, m),
		"Previews": c.previewsFor(s, sp.Post), "ScheduleFor": c.defaultScheduleFor(sp.Post),
		"HasNewsletter": c.opts.SendTest != nil,
		// While a delivery is under way the page's script follows it.
		"Live": live || sp.State == store.PostScheduled && !sp.Post.PublishAt.After(c.opts.Now().Add(time.Minute)),
	}
	if notice != "" && strings.HasPrefix(notice, "The test copy could not") {
		w.WriteHeader(http.StatusBadGateway)
	}
	c.render(w, r, s, "post", data)
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

func (c *Console) defaultScheduleFor(p post.Post) string {
	if !p.Draft && p.PublishAt.After(c.opts.Now()) {
		return p.PublishAt.In(c.opts.Location).Format(datetimeLocal)
	}
	return c.opts.Now().In(c.opts.Location).Add(time.Hour).Truncate(time.Hour).Format(datetimeLocal)
}

func (c *Console) parts(ctx context.Context, postID, channel string) []partView {
	rows, err := c.db().QueryContext(ctx, `SELECT idx, remote_url FROM delivery_parts WHERE post_id = $1 AND channel = $2 ORDER BY idx`, postID, channel)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []partView
	for rows.Next() {
		var p partView
		if rows.Scan(&p.Index, &p.URL) == nil && safeURL(p.URL) {
			out = append(out, p)
		}
	}
	return out
}

// newsletterProgress is the newsletter's per-recipient progress for a post
// (sent / total), from the email channel's send ledger.
func (c *Console) newsletterProgress(ctx context.Context, postID string) *progress {
	ps, err := email.SendProgress(ctx, c.db())
	if err != nil {
		return nil
	}
	for _, p := range ps {
		if p.Ref == postID {
			return &progress{Sent: p.Sent, Failed: p.Failed, Total: p.Total, Warning: p.Warning}
		}
	}
	return nil
}

// explain turns a delivery's last error into plain words and the fix.
func explain(channel, msg string) (problem, fix string) {
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "401") || strings.Contains(low, "unauthorized") || strings.Contains(low, "invalid token") || strings.Contains(low, "access token"):
		return "The " + channel + " account refused Crier's credentials.", "Check the token in the environment (see docs/" + channel + ".md), restart Crier, then press Retry."
	case strings.Contains(low, "403") || strings.Contains(low, "forbidden") || strings.Contains(low, "missing permissions"):
		return "Crier is not allowed to post there.", "Give the account or bot permission to post in that channel, then press Retry."
	case strings.Contains(low, "404") || strings.Contains(low, "unknown channel"):
		return "The " + channel + " destination does not exist.", "Check the channel or instance address in config.yaml, then press Retry."
	case strings.Contains(low, "422") || strings.Contains(low, "validation"):
		return "The " + channel + " server refused the post's content.", "Edit what the message says in the error below (too long, bad image), then press Retry."
	case strings.Contains(low, "rate"):
		return channel + " asked Crier to slow down.", "Nothing to do: Crier tries again by itself."
	case strings.Contains(low, "gave up"):
		return "Crier tried several times and the " + channel + " server kept failing.", "Check that the service is up, then press Retry."
	case strings.Contains(low, "ambiguous") || strings.Contains(low, "timeout") || strings.Contains(low, "deadline"):
		return "Crier could not tell whether " + channel + " received the post.", "Crier checks before sending again; press Retry if it stays failed."
	case strings.Contains(low, "connection refused") || strings.Contains(low, "no such host") || strings.Contains(low, "dial"):
		return "Crier could not reach the " + channel + " server.", "Check the address in config.yaml and the network, then press Retry."
	}
	return "The last attempt to deliver to " + channel + " failed.", "Read the error below; fix what it names, then press Retry."
}

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
