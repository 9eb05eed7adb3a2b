package console

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crierhq/crier/internal/redact"
	"github.com/crierhq/crier/subscribers"
)

func (c *Console) noNewsletter(w http.ResponseWriter, r *http.Request, s Session) bool {
	if c.opts.Subscribers != nil {
		return false
	}
	c.render(w, r, s, "forbidden", map[string]any{"Message": "The newsletter is not enabled (channels.email in config.yaml), so there are no supporters to show."})
	return true
}

func (c *Console) supporters(w http.ResponseWriter, r *http.Request, s Session) {
	c.showSupporters(w, r, s, "", "", http.StatusOK)
}

func (c *Console) showSupporters(w http.ResponseWriter, r *http.Request, s Session, notice, problem string, status int) {
	if c.noNewsletter(w, r, s) {
		return
	}
	ctx := r.Context()
	counts, asOf, err := c.counts.get(ctx, c.opts.Subscribers, c.opts.Now)
	if err != nil {
		c.serverError(w, r, "counting supporters", err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.FormValue("q")))
	var found []subscribers.Subscriber
	if q != "" {
		if found, err = c.searchSupporters(ctx, q); err != nil {
			c.serverError(w, r, "searching supporters", err)
			return
		}
	}
	// An import of theirs the daemon stopped says so here too: its page
	// may be long closed.
	var interrupted, interruptedID string
	if last, ok, err := c.lastImport(ctx, s.User.ID); err != nil {
		c.opts.Logger.Error("console: reading the last import", "err", err)
	} else if ok && last.State == importInterrupted {
		interrupted, interruptedID = interruptedText(last), last.ID
	}
	w.WriteHeader(status)
	c.render(w, r, s, "supporters", map[string]any{"Interrupted": interrupted, "InterruptedID": interruptedID, "Counts": []struct {
		Label string
		N     int
	}{{"Confirmed", counts[subscribers.Confirmed]}, {"Waiting for confirmation", counts[subscribers.Unconfirmed]},
		{"Unsubscribed", counts[subscribers.Unsubscribed]}, {"Bounced", counts[subscribers.Bounced]}},
		"Q": q, "Found": found, "Notice": notice, "Problem": problem, "AsOf": c.showTime(asOf),
		"Erased": r.Form.Get("erased"), "CanReconfirm": c.opts.Reconfirm != nil})
}

// countCache keeps the supporters' counts by status: counting a million
// rows takes a tenth of a second, so the page shows counts at most
// countsMaxAge old and refreshes them in the background.
type countCache struct {
	mu         sync.Mutex
	counts     map[subscribers.Status]int
	at         time.Time
	refreshing bool
}

const countsMaxAge = 30 * time.Second

func (cc *countCache) get(ctx context.Context, st *subscribers.Store, now func() time.Time) (map[subscribers.Status]int, time.Time, error) {
	cc.mu.Lock()
	counts, at, stale := cc.counts, cc.at, now().Sub(cc.at) > countsMaxAge
	if counts != nil && stale && !cc.refreshing {
		cc.refreshing = true
		go cc.refresh(context.WithoutCancel(ctx), st, now)
	}
	cc.mu.Unlock()
	if counts != nil {
		return counts, at, nil
	}
	return cc.refresh(ctx, st, now)
}

func (cc *countCache) refresh(ctx context.Context, st *subscribers.Store, now func() time.Time) (map[subscribers.Status]int, time.Time, error) {
	at := now()
	counts, err := st.CountByStatus(ctx)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.refreshing = false
	if err != nil {
		return nil, time.Time{}, err
	}
	cc.counts, cc.at = counts, at
	return counts, at, nil
}

// invalidate makes the next page count again (after a change made here).
func (cc *countCache) invalidate() {
	cc.mu.Lock()
	cc.counts = nil
	cc.mu.Unlock()
}

// searchSupporters finds up to 50 supporters whose address or name
// contains q (subscribers.Store.Search).
func (c *Console) searchSupporters(ctx context.Context, q string) ([]subscribers.Subscriber, error) {
	return c.opts.Subscribers.Search(ctx, q, 50)
}

func (c *Console) supporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	if sub, ok := c.pathSupporter(w, r); ok {
		c.showSupporter(w, r, s, sub, "", "", http.StatusOK)
	}
}

// pathSupporter reads the supporter the URL's {id} names; it answers 404
// or 500 itself and reports false.
func (c *Console) pathSupporter(w http.ResponseWriter, r *http.Request) (subscribers.Subscriber, bool) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	sub, err := c.opts.Subscribers.Get(r.Context(), id)
	if errors.Is(err, subscribers.ErrNotFound) {
		http.NotFound(w, r)
		return sub, false
	}
	if err != nil {
		c.serverError(w, r, "reading the supporter", err)
		return sub, false
	}
	return sub, true
}

// showSupporter renders a supporter's page with their consent history,
// where a bounce's event says its reason in plain words.
func (c *Console) showSupporter(w http.ResponseWriter, r *http.Request, s Session, sub subscribers.Subscriber, notice, problem string, status int) {
	hist, err := c.opts.Subscribers.History(r.Context(), sub.ID)
	if err != nil {
		c.serverError(w, r, "reading the consent history", err)
		return
	}
	w.WriteHeader(status)
	c.render(w, r, s, "supporter", map[string]any{"Sub": sub, "History": hist, "Notice": notice, "Problem": problem,
		"CanRestore": sub.Status == subscribers.Bounced && c.opts.Restore != nil})
}

// restoreSupporter asks a supporter a bounce dropped to confirm again: a
// fresh confirmation mail; they are back on the list (with a new consent
// event) only once they follow its link.
func (c *Console) restoreSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	sub, ok := c.pathSupporter(w, r)
	if !ok {
		return
	}
	if c.opts.Restore == nil {
		c.showSupporter(w, r, s, sub, "", "The newsletter cannot send mail: nothing was sent.", http.StatusConflict)
		return
	}
	err := c.opts.Restore(r.Context(), sub.ID, "console: restored after a bounce by "+s.User.Email)
	switch {
	case errors.Is(err, subscribers.ErrInvalid):
		c.showSupporter(w, r, s, sub, "", "Not sent: "+err.Error(), http.StatusUnprocessableEntity)
	case err != nil:
		c.serverError(w, r, "sending the confirmation mail", err)
	default:
		c.opts.Logger.Info("console: confirmation mail sent to restore a bounced supporter", "subscriber", sub.ID, "by", s.User.ID)
		c.showSupporter(w, r, s, sub, "A confirmation mail went to "+sub.Email+": they are back on the list once they follow its link.", "", http.StatusOK)
	}
}

func (c *Console) addSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	if r.PostFormValue("consent") == "" {
		c.showSupporters(w, r, s, "", "Tick that this person agreed to receive the newsletter: Crier only adds supporters who consented.", http.StatusUnprocessableEntity)
		return
	}
	sub, err := c.opts.Subscribers.Add(r.Context(), subscribers.Subscriber{
		Email: r.PostFormValue("email"), Name: strings.TrimSpace(r.PostFormValue("name")), Status: subscribers.Confirmed,
		ConsentAt: c.opts.Now().UTC(), ConsentSource: "console: added by " + s.User.Email,
	})
	if errors.Is(err, subscribers.ErrSuppressed) {
		c.showErased(w, r, s, r.PostFormValue("email"))
		return
	}
	if err != nil {
		c.showSupporters(w, r, s, "", c.notAdded(err), http.StatusUnprocessableEntity)
		return
	}
	c.counts.invalidate()
	c.showSupporters(w, r, s, "Added "+sub.Email+".", "", http.StatusOK)
}

func (c *Console) removeSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	email := r.PostFormValue("email")
	if !confirmed(r) {
		c.askFirst(w, r, s, question{
			Title: "Remove and erase " + email + "?",
			Consequences: []string{
				"Their address, name and consent history are erased now. This cannot be undone.",
				"A salted hash of the address is kept so that no import and no organiser can add it back by mistake. Only they can come back: by subscribing again and confirming, or through a confirmation mail an owner sends them from this page.",
			},
			Action: "/supporters/remove", Fields: map[string]string{"email": email},
			Button: "Yes, remove and erase", Back: "/supporters", BackLabel: "Keep " + email,
		})
		return
	}
	err := c.opts.Subscribers.Delete(r.Context(), email)
	switch {
	case errors.Is(err, subscribers.ErrNotFound):
		c.showSupporters(w, r, s, "", "No supporter has that address (Crier will still refuse it on a future import).", http.StatusNotFound)
	case err != nil && errors.Is(err, subscribers.ErrInvalid):
		c.showSupporters(w, r, s, "", err.Error(), http.StatusUnprocessableEntity)
	case err != nil:
		c.serverError(w, r, "removing the supporter", err)
	default:
		c.opts.Logger.Info("console: supporter erased", "by", s.User.ID)
		c.counts.invalidate()
		c.showSupporters(w, r, s, "Removed the supporter and erased their data.", "", http.StatusOK)
	}
}

// showErased refuses to add an address erased at its owner's request, and
// offers an owner the one way back: a confirmation mail to that person.
func (c *Console) showErased(w http.ResponseWriter, r *http.Request, s Session, email string) {
	msg := "Not added: " + email + " was erased at its owner's request, so no organiser or import can add it back."
	switch {
	case c.opts.Reconfirm == nil:
		msg += " They can subscribe again through the form."
	case !s.User.Role.Can(RoleOwner):
		msg += " If it was erased by mistake, an owner can send them a confirmation mail from this page."
	}
	r.Form.Set("erased", email)
	c.showSupporters(w, r, s, "", msg, http.StatusUnprocessableEntity)
}

// reconfirmSupporter sends an erased address a fresh confirmation mail,
// after asking: they are back on the list only when they confirm.
func (c *Console) reconfirmSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	email := r.PostFormValue("email")
	if c.opts.Reconfirm == nil {
		c.refuse(w, r, s, "Crier cannot send confirmation mails from the console here; the person can subscribe again through the form.")
		return
	}
	if !confirmed(r) {
		c.askFirst(w, r, s, question{
			Title: "Send " + email + " a confirmation mail?",
			Consequences: []string{
				"This address was erased at its owner's request. Crier mails them a link; only if they follow it are they back on the list, with their new consent recorded.",
				"Do this only if the address was erased by mistake: the person asked to be forgotten.",
			},
			Action: "/supporters/reconfirm", Fields: map[string]string{"email": email},
			Button: "Yes, send the confirmation mail", Back: "/supporters", BackLabel: "Do not send",
		})
		return
	}
	if err := c.opts.Reconfirm(r.Context(), email, s.User.Email); err != nil {
		c.showSupporters(w, r, s, "", "No confirmation mail sent: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	c.opts.Logger.Info("console: confirmation mail sent to an erased address", "by", s.User.ID)
	c.counts.invalidate()
	c.showSupporters(w, r, s, "A confirmation mail is on its way to "+email+". They are back on the list only when they confirm.", "", http.StatusOK)
}

func (c *Console) exportSupporters(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="supporters.csv"`)
	if _, err := c.opts.Subscribers.Export(r.Context(), w, ""); err != nil {
		c.opts.Logger.Error("console: exporting supporters", "err", err)
	}
}

// notAdded says in a sentence, with the fix, why a supporter was not added.
func (c *Console) notAdded(err error) string {
	switch {
	case errors.Is(err, subscribers.ErrExists):
		return "Not added: this address is already on the list. Search for it above to open its page."
	case errors.Is(err, subscribers.ErrInvalid):
		// The wrapped message says what is wrong with the input.
		_, why, _ := strings.Cut(err.Error(), subscribers.ErrInvalid.Error()+": ")
		return "Not added: " + cmp.Or(why, "the address or name is not valid") + ". Correct it and add again."
	}
	c.opts.Logger.Error("console: adding a supporter", "err", redact.Addresses(err.Error()))
	return "Not added: something went wrong while saving (the error is in Crier's log). Try again in a moment."
}
