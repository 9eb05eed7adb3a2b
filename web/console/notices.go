package console

import (
	"net/http"
	"net/url"

	"github.com/crierhq/crier/bot/store"
)

// A done notice confirms an action after its redirect: the action's page
// is redirected to with ?done=<key>, and the post page shows the fixed
// sentence for that key in its role="status" region, so screen readers
// announce it. Only the keys below are shown: nothing from the query
// string is ever echoed.
var doneNotices = map[string]func(c *Console, sp store.StoredPost) string{
	"saved":     func(*Console, store.StoredPost) string { return "Saved." },
	"submitted": func(*Console, store.StoredPost) string { return "Submitted for review. An editor can now approve it." },
	"approved":  func(*Console, store.StoredPost) string { return "Approved. It can now be scheduled or published." },
	"scheduled": func(c *Console, sp store.StoredPost) string {
		return "Scheduled for " + c.showTime(sp.Post.PublishAt) + "."
	},
	"unscheduled": func(*Console, store.StoredPost) string {
		return "Unscheduled. It will not go out; it is a draft again."
	},
	"published": func(*Console, store.StoredPost) string {
		return "Published. The channels below show how the sending goes."
	},
	"retried": func(*Console, store.StoredPost) string { return "Queued again. The channel below is being tried now." },
	"corrected": func(*Console, store.StoredPost) string {
		return "Correction queued. Its result on each channel is under Corrections and withdrawals below."
	},
	"correction-submitted": func(*Console, store.StoredPost) string {
		return "Correction submitted. An editor must approve it before it goes out."
	},
	"correction-approved": func(*Console, store.StoredPost) string {
		return "Correction approved and queued. Its result on each channel is under Corrections and withdrawals below."
	},
	"withdrawn": func(*Console, store.StoredPost) string {
		return "Withdrawal queued. Its result on each channel is under Corrections and withdrawals below."
	},
	"refreshed": func(*Console, store.StoredPost) string {
		return "Reach read again. Each channel below says when its numbers were last read."
	},
	"went-out":   func(*Console, store.StoredPost) string { return "Recorded as sent, on your word." },
	"sent-again": func(*Console, store.StoredPost) string { return "Sending again. The channel below is being tried now." },
}

// redirectDone sends the browser to post id's page with the notice for
// done.
func redirectDone(w http.ResponseWriter, r *http.Request, id, done string) {
	http.Redirect(w, r, "/posts/"+id+"?"+url.Values{"done": {done}}.Encode(), http.StatusSeeOther)
}

// doneNotice is the confirmation the request's ?done asks for, "" when it
// names no known action.
func (c *Console) doneNotice(r *http.Request, sp store.StoredPost) string {
	if f, ok := doneNotices[r.URL.Query().Get("done")]; ok && r.Method == http.MethodGet {
		return f(c, sp)
	}
	return ""
}
