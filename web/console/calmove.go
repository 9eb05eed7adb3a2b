package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
)

// calendarRoutes adds the calendar's actions to mux: moving a scheduled
// post to another day and submitting a saved draft for review.
func (c *Console) calendarRoutes(mux *http.ServeMux) {
	mux.Handle("POST /posts/{id}/move", c.auth(RoleEditor, c.movePost))
	mux.Handle("POST /posts/{id}/submit", c.auth(RoleAuthor, c.submitDraft))
}

// dayForm is the day a calendar link asks a new post to be written for:
// the write form's Schedule for, at 09:00 in the campaign's time zone, or
// "" when day is not a date.
func (c *Console) dayForm(day string) string {
	t, err := time.ParseInLocation("2006-01-02", day, c.opts.Location)
	if err != nil {
		return ""
	}
	return c.formatWhen(t.Add(9 * time.Hour))
}

// movePost moves a scheduled post to another day at the same time of day
// (the calendar's drag and drop and its "Move to…" form). Like Schedule it
// acts only on the revision the editor saw.
func (c *Console) movePost(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if sp.State != store.PostScheduled {
		c.refuse(w, r, s, "Only a scheduled post can be moved to another day; this one is "+string(sp.State)+".")
		return
	}
	at, err := c.sameTimeOn(sp.Post.PublishAt, r.PostFormValue("date"))
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.renderPost(w, r, s, sp.Post.ID, err.Error())
		return
	}
	if !c.sameRevision(w, r, s, sp.Post, "moved") {
		return
	}
	if c.doSchedule(w, r, s, sp.Post, m, at) {
		// The calendar confirms the move, as the post page confirms the
		// other actions (movedNotice).
		http.Redirect(w, r, "/calendar?"+url.Values{"date": {at.In(c.opts.Location).Format("2006-01-02")}, "moved": {sp.Post.ID}}.Encode(), http.StatusSeeOther)
	}
}

// movedNotice confirms a move on the calendar it redirects to: "Moved
// “Vigil” to Thu 10 Dec 2026 09:00 GMT." Only the time and title of a
// scheduled post the store holds are shown, nothing of the query string.
func (c *Console) movedNotice(r *http.Request) string {
	id := r.URL.Query().Get("moved")
	if id == "" || r.Method != http.MethodGet {
		return ""
	}
	sp, err := c.opts.Store.Post(r.Context(), id)
	if err != nil || sp.State != store.PostScheduled {
		return ""
	}
	return "Moved “" + sp.Post.Title + "” to " + c.showTime(sp.Post.PublishAt) + "."
}

// sameTimeOn is at's time of day (in the campaign's zone) on day, a
// YYYY-MM-DD date; it must be in the future.
func (c *Console) sameTimeOn(at time.Time, day string) (time.Time, error) {
	if _, err := time.Parse("2006-01-02", day); err != nil {
		return time.Time{}, errDay(day)
	}
	return c.parseWhen(day + "T" + at.In(c.opts.Location).Format("15:04"))
}

type errDay string

func (e errDay) Error() string {
	return "“" + string(e) + "” is not a day such as 2031-05-01: choose the day to move the post to."
}

// submitDraft sends a saved draft for review as it is stored, so that the
// page Save draft leads to can offer Submit without the whole form.
func (c *Console) submitDraft(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if !c.mayEdit(s, m) {
		c.refuse(w, r, s, "Only its author or an editor can submit this post.")
		return
	}
	if sp.State != store.PostDraft || (m.Workflow != WorkflowDraft && m.Workflow != WorkflowCancelled) {
		c.refuse(w, r, s, "Only a draft can be submitted for review; this one is "+strings.ToLower(m.Workflow.Label())+".")
		return
	}
	m.Workflow = WorkflowReview
	err := c.saveConsolePost(r.Context(), sp.Post, store.PostDraft, m, s.User.Email, "submitted for review", "", "")
	if c.refusedAsChanged(w, r, s, sp.Post.ID, "submitted", err) {
		return
	}
	if err != nil {
		c.serverError(w, r, "submitting the post", err)
		return
	}
	http.Redirect(w, r, "/posts/"+m.PostID, http.StatusSeeOther)
}
