package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crierhq/crier/internal/redact"
	"github.com/crierhq/crier/migrate"
)

// NoticeEvent is what happened to a post that someone is told about.
type NoticeEvent string

// The events organisers are told about: editors of a submitted post and of
// a delivery failed for good, the author of the rest. The bot tells of
// the last two (bot.Options.OnSent, OnFailed).
const (
	NoticeSubmitted NoticeEvent = "submitted"
	NoticeFailed    NoticeEvent = "failed"
	NoticeApproved  NoticeEvent = "approved"
	NoticeScheduled NoticeEvent = "scheduled"
	NoticeSent      NoticeEvent = "sent"
	NoticeSentBack  NoticeEvent = "sent_back"
)

// noticeEvents are the events in the order the settings page lists them.
var noticeEvents = []struct {
	Event      NoticeEvent
	Label      string
	ForEditors bool // told to editors and owners, else to the post's author
}{
	{NoticeSubmitted, "A post is submitted for review", true},
	{NoticeFailed, "A delivery fails for good", true},
	{NoticeApproved, "My post is approved", false},
	{NoticeScheduled, "My post is scheduled", false},
	{NoticeSent, "My post is sent", false},
	{NoticeSentBack, "My post is sent back to me", false},
}

func forEditors(e NoticeEvent) bool {
	for _, x := range noticeEvents {
		if x.Event == e {
			return x.ForEditors
		}
	}
	return false
}

// Notice is one thing to tell organisers about a post. It is a River job's
// arguments in the daemon, so it holds what is needed to write it later.
type Notice struct {
	Event  NoticeEvent `json:"event"`
	PostID string      `json:"post_id"`
	// Actor is who did it (an editor's address; empty for the bot), never
	// told their own doing.
	Actor   string `json:"actor,omitempty"`
	Channel string `json:"channel,omitempty"`
	// Detail is the editor's comment, the schedule time or the error.
	Detail string `json:"detail,omitempty"`
	// Via is where this sending goes: "mail" or a chat's name; empty:
	// everywhere (as notices queued before Via were).
	Via string `json:"via,omitempty"`
	// Sending names this sending of the notice, the same when it is tried
	// again (in the daemon, its job's identity), so that a chat that tells
	// retries apart (Matrix's transaction IDs) posts it once. Empty: a new
	// one each time.
	Sending string `json:"-"`
}

// Chat is an organisers' chat room that notices are posted to.
type Chat struct {
	// Name keys the settings kept and the form: "discord", "matrix".
	Name string
	// Label names the room on the settings page: "the organisers' Matrix room".
	Label string
	// Where says which room it is, for the owners' Setup page
	// ("#organisers:example.org on https://matrix.example.org"); never a
	// secret (a webhook's address is one).
	Where string
	// Post posts one notice; an error means it was not posted.
	Post func(ctx context.Context, m ChatNotice) error
}

// ChatNotice is one notice as a chat posts it.
type ChatNotice struct {
	// ID is Notice.Sending: the same when the notice is tried again.
	ID string
	// Subject is the notice's subject line, URL its post's page.
	Subject, URL string
}

// Kind names the notice's job in River's table.
func (Notice) Kind() string { return "crier.console_notice" }

// notify queues a notice through Options.Notify; a failure to queue is
// logged (without addresses) and never fails the organiser's request.
func (c *Console) notify(ctx context.Context, n Notice) {
	if c.opts.Notify == nil {
		return
	}
	if err := c.opts.Notify(context.WithoutCancel(ctx), n); err != nil {
		c.opts.Logger.Error("console: queueing a notice", "event", string(n.Event), "post", n.PostID, "err", redact.Addresses(err.Error()))
	}
}

// SendNotice mails the notice to everyone it concerns who has not turned
// mail of it off, and posts it to each organisers' chat unless everyone it
// concerns turned it off there (only the way n.Via names, when set). An
// error means something was not sent (the daemon's job tries again); a
// chat's error keeps its class (channels.Error).
func (c *Console) SendNotice(ctx context.Context, n Notice) error {
	subject, text, err := c.noticeText(ctx, n)
	if err != nil {
		return err
	}
	people, err := c.concerned(ctx, n)
	if err != nil {
		return err
	}
	var errs []error
	if c.mailReady(ctx) && (n.Via == "" || n.Via == "mail") {
		for _, u := range people {
			muted, err := c.opts.Users.MutedNotices(ctx, u.ID)
			if err == nil && !muted[n.Event] {
				if err = c.opts.AccountMail(ctx, u.Email, subject, text); err != nil {
					err = fmt.Errorf("mailing a %s notice: %s", n.Event, redact.Addresses(err.Error()))
				}
			}
			errs = append(errs, err) // nil ones are dropped by errors.Join
		}
	}
	if n.Sending == "" {
		n.Sending = "notice-" + randomToken()
	}
	for _, chat := range c.opts.Chats {
		if n.Via != "" && n.Via != chat.Name {
			continue
		}
		wanted, err := c.chatWanted(ctx, n.Event, people, chat.Name)
		if err == nil && wanted {
			if err = chat.Post(ctx, ChatNotice{ID: n.Sending, Subject: subject, URL: c.postURL(n.PostID)}); err != nil {
				err = fmt.Errorf("posting a %s notice to %s: %w", n.Event, chat.Label, err)
			}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// chatWanted reports whether a notice goes to a chat: unless everyone it
// concerns turned it off there. A notice that concerns nobody (the only
// editor submitted a post) still goes: the room is the organisers'.
func (c *Console) chatWanted(ctx context.Context, e NoticeEvent, people []User, chat string) (bool, error) {
	for _, u := range people {
		muted, err := c.opts.Users.MutedChatNotices(ctx, u.ID, chat)
		if err != nil || !muted[e] {
			return err == nil, err
		}
	}
	return len(people) == 0, nil
}

func (c *Console) postURL(id string) string {
	return strings.TrimRight(c.opts.PublicURL, "/") + "/posts/" + id
}

// noticeText writes the notice's subject line and mail.
func (c *Console) noticeText(ctx context.Context, n Notice) (subject, text string, err error) {
	title := n.PostID
	if sp, err := c.opts.Store.Post(ctx, n.PostID); err == nil && sp.Post.Title != "" {
		title = sp.Post.Title
	}
	who := n.Actor
	if who == "" {
		who = "Crier"
	}
	switch n.Event {
	case NoticeSubmitted:
		subject = fmt.Sprintf("%q was submitted for review", title)
	case NoticeApproved:
		subject = fmt.Sprintf("%q was approved", title)
	case NoticeScheduled:
		subject = fmt.Sprintf("%q is scheduled %s", title, n.Detail)
	case NoticeSent:
		subject = c.sentSubject(ctx, n.PostID, title)
	case NoticeSentBack:
		subject = fmt.Sprintf("%q was sent back to you", title)
	case NoticeFailed:
		subject = fmt.Sprintf("%q could not be delivered to %s", title, n.Channel)
	default:
		return "", "", fmt.Errorf("a notice of unknown event %q", n.Event)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n\nBy: %s\n", subject, who)
	if n.Detail != "" && (n.Event == NoticeSentBack || n.Event == NoticeFailed) {
		fmt.Fprintf(&b, "\n%s\n", n.Detail)
	}
	fmt.Fprintf(&b, "\nOpen the post: %s\n\nChoose which notices you get: %s/account/notifications\n", c.postURL(n.PostID), strings.TrimRight(c.opts.PublicURL, "/"))
	if c.opts.Campaign != "" {
		subject = "[" + c.opts.Campaign + "] " + subject
	}
	return subject, b.String(), nil
}

// sentSubject says a post was sent, and never so of channels that only
// saved it locally (the outbox, docs/console.md).
func (c *Console) sentSubject(ctx context.Context, id, title string) string {
	ds, _ := c.opts.Store.Deliveries(ctx, id)
	var local []string
	for _, d := range ds {
		if d.Outbox {
			local = append(local, d.Channel)
		}
	}
	switch {
	case len(local) > 0 && len(local) == len(ds):
		return fmt.Sprintf("%q was saved locally, not sent (no channel can send)", title)
	case len(local) > 0:
		return fmt.Sprintf("%q was sent; saved locally, not sent, to %s", title, strings.Join(local, ", "))
	}
	return fmt.Sprintf("%q was sent everywhere", title)
}

// concerned are the people a notice is for: editors and owners, or the
// post's author; never the actor.
func (c *Console) concerned(ctx context.Context, n Notice) ([]User, error) {
	users, err := c.opts.Users.List(ctx)
	if err != nil {
		return nil, err
	}
	var authorID int64
	if !forEditors(n.Event) {
		m, ok, err := c.meta(ctx, n.PostID)
		if err != nil || !ok {
			return nil, err // not a console post: no author to tell
		}
		authorID = m.AuthorID
	}
	var people []User
	for _, u := range users {
		if addressKey(u.Email) == addressKey(n.Actor) {
			continue
		}
		if forEditors(n.Event) && !u.Role.Can(RoleEditor) || !forEditors(n.Event) && u.ID != authorID {
			continue
		}
		people = append(people, u)
	}
	return people, nil
}

// notifySchema keeps the notices each user turned off (every notice is on
// until turned off): by mail, and (step 2) in each organisers' chat.
var notifySchema = []string{migrate.Dialects(`
CREATE TABLE console_notices_off (
	user_id INTEGER NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	event   TEXT NOT NULL,
	PRIMARY KEY (user_id, event)
);
`, `
CREATE TABLE console_notices_off (
	user_id BIGINT NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	event   TEXT NOT NULL,
	PRIMARY KEY (user_id, event)
);
`), migrate.Dialects(`
CREATE TABLE console_chat_notices_off (
	user_id INTEGER NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	chat    TEXT NOT NULL,
	event   TEXT NOT NULL,
	PRIMARY KEY (user_id, chat, event)
);
`, `
CREATE TABLE console_chat_notices_off (
	user_id BIGINT NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	chat    TEXT NOT NULL,
	event   TEXT NOT NULL,
	PRIMARY KEY (user_id, chat, event)
);
`)}

// MutedNotices returns the events a user turned off by mail.
func (u *Users) MutedNotices(ctx context.Context, userID int64) (map[NoticeEvent]bool, error) {
	return u.mutedEvents(ctx, `SELECT event FROM console_notices_off WHERE user_id = $1`, userID)
}

// MutedChatNotices returns the events a user turned off in one chat.
func (u *Users) MutedChatNotices(ctx context.Context, userID int64, chat string) (map[NoticeEvent]bool, error) {
	return u.mutedEvents(ctx, `SELECT event FROM console_chat_notices_off WHERE user_id = $1 AND chat = $2`, userID, chat)
}

// SetMutedNotices replaces the events a user turned off by mail.
func (u *Users) SetMutedNotices(ctx context.Context, userID int64, muted []NoticeEvent) error {
	return u.setMuted(ctx, muted, `DELETE FROM console_notices_off WHERE user_id = $1`,
		`INSERT INTO console_notices_off (user_id, event) VALUES ($1, $2)`, userID)
}

// SetMutedChatNotices replaces the events a user turned off in one chat.
func (u *Users) SetMutedChatNotices(ctx context.Context, userID int64, chat string, muted []NoticeEvent) error {
	return u.setMuted(ctx, muted, `DELETE FROM console_chat_notices_off WHERE user_id = $1 AND chat = $2`,
		`INSERT INTO console_chat_notices_off (user_id, chat, event) VALUES ($1, $2, $3)`, userID, chat)
}

// mutedEvents reads the events query selects.
func (u *Users) mutedEvents(ctx context.Context, query string, args ...any) (map[NoticeEvent]bool, error) {
	rows, err := u.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading notice settings: %w: %w", errDatabase, err)
	}
	defer rows.Close()
	muted := map[NoticeEvent]bool{}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("reading notice settings: %w: %w", errDatabase, err)
		}
		muted[NoticeEvent(e)] = true
	}
	return muted, rows.Err()
}

// setMuted replaces, in one transaction, the rows del deletes with one
// insert per event: ins takes key's values, then the event.
func (u *Users) setMuted(ctx context.Context, muted []NoticeEvent, del, ins string, key ...any) error {
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("saving notice settings: %w: %w", errDatabase, err)
	}
	defer tx.Rollback()
	if _, err = tx.ExecContext(ctx, del, key...); err != nil {
		return fmt.Errorf("saving notice settings: %w: %w", errDatabase, err)
	}
	for _, e := range muted {
		if _, err = tx.ExecContext(ctx, ins, append(slices.Clone(key), string(e))...); err != nil {
			return fmt.Errorf("saving notice settings: %w: %w", errDatabase, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("saving notice settings: %w: %w", errDatabase, err)
	}
	return nil
}

func init() { pageNames = append(pageNames, "notifications") }

// notificationsPage shows the user's notice settings: one box per event
// that concerns their role.
func (c *Console) notificationsPage(w http.ResponseWriter, r *http.Request, s Session) {
	c.showNotifications(w, r, s, http.StatusOK, "")
}

func (c *Console) showNotifications(w http.ResponseWriter, r *http.Request, s Session, status int, notice string) {
	type box struct {
		Field, Label string
		On           bool
	}
	type group struct {
		Legend string
		Boxes  []box
	}
	var groups []group
	for _, way := range c.noticeWays() {
		muted, err := c.mutedWay(r.Context(), s.User.ID, way)
		if err != nil {
			c.serverError(w, r, "reading your notice settings", err)
			return
		}
		g := group{Legend: way.Legend}
		for _, e := range noticeEvents {
			if !e.ForEditors || s.User.Role.Can(RoleEditor) {
				g.Boxes = append(g.Boxes, box{way.field(e.Event), e.Label, !muted[e.Event]})
			}
		}
		groups = append(groups, g)
	}
	w.WriteHeader(status)
	c.render(w, r, s, "notifications", map[string]any{"Groups": groups, "Chats": len(c.opts.Chats) > 0, "CanMail": c.mailReady(r.Context()), "Notice": notice})
}

// saveNotifications turns off, by mail and in each chat, every event
// offered whose box was not ticked; the editors' events stay as they were
// for an author (who may be made an editor later), and so do the choices
// for a chat no longer configured.
func (c *Console) saveNotifications(w http.ResponseWriter, r *http.Request, s Session) {
	for _, way := range c.noticeWays() {
		before, err := c.mutedWay(r.Context(), s.User.ID, way)
		if err != nil {
			c.serverError(w, r, "reading your notice settings", err)
			return
		}
		var muted []NoticeEvent
		for _, e := range noticeEvents {
			offered := !e.ForEditors || s.User.Role.Can(RoleEditor)
			if offered && r.PostFormValue(way.field(e.Event)) != "on" || !offered && before[e.Event] {
				muted = append(muted, e.Event)
			}
		}
		if way.Chat == "" {
			err = c.opts.Users.SetMutedNotices(r.Context(), s.User.ID, muted)
		} else {
			err = c.opts.Users.SetMutedChatNotices(r.Context(), s.User.ID, way.Chat, muted)
		}
		if err != nil {
			c.serverError(w, r, "saving your notice settings", err)
			return
		}
	}
	c.showNotifications(w, r, s, http.StatusOK, "Saved.")
}

// noticeWay is one way notices go: by mail (Chat empty) or to one chat.
type noticeWay struct{ Chat, Legend string }

// noticeWays are mail and each configured chat, as the settings list them.
func (c *Console) noticeWays() []noticeWay {
	ways := []noticeWay{{Legend: "Mail me when"}}
	for _, ch := range c.opts.Chats {
		ways = append(ways, noticeWay{Chat: ch.Name, Legend: "Post to " + ch.Label + " when"})
	}
	return ways
}

// field is the form field of an event's box: the event for mail,
// "chat:event" for a chat.
func (w noticeWay) field(e NoticeEvent) string {
	if w.Chat == "" {
		return string(e)
	}
	return w.Chat + ":" + string(e)
}

func (c *Console) mutedWay(ctx context.Context, userID int64, w noticeWay) (map[NoticeEvent]bool, error) {
	if w.Chat == "" {
		return c.opts.Users.MutedNotices(ctx, userID)
	}
	return c.opts.Users.MutedChatNotices(ctx, userID, w.Chat)
}

// DiscordPoster posts notices to a Discord channel through its webhook
// (console.notify.discord_webhook), mentioning nobody.
type DiscordPoster struct {
	Webhook string
	Client  *http.Client
}

// Post sends one notice: its subject and the post's address. A non-2xx
// answer is an error.
func (d DiscordPoster) Post(ctx context.Context, m ChatNotice) error {
	body, _ := json.Marshal(map[string]any{"content": m.Subject + "\n" + m.URL, "allowed_mentions": map[string]any{"parse": []string{}}})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Webhook, bytes.NewReader(body))
	if err != nil {
		return errors.New("console.notify.discord_webhook is not a valid address")
	}
	req.Header.Set("Content-Type", "application/json")
	// Discord refuses other forms of User-Agent (as channels/discord sends it).
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/crierhq/crier, 1)")
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The webhook's address is a secret: never in the error.
		return fmt.Errorf("posting to the organisers' Discord webhook: %w", errors.Unwrap(err))
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting to the organisers' Discord webhook: status %d", resp.StatusCode)
	}
	return nil
}
