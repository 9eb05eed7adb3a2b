package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/crierhq/crier/subscribers"
)

// adminSubscriber is a subscriber as the admin API shows it.
type adminSubscriber struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Status        string    `json:"status"`
	Lists         []string  `json:"lists"`
	ConsentAt     time.Time `json:"consent_at,omitzero"`
	ConsentSource string    `json:"consent_source"`
	ConsentIP     string    `json:"consent_ip"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type adminList struct {
	Subscribers []adminSubscriber `json:"subscribers"`
	// NextAfter is the after= value for the next page; 0 means no more.
	NextAfter int64 `json:"next_after"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// adminList serves GET /admin/subscribers?status=&after=&limit= (limit at
// most 1000, default 100), a page in id order.
func (n *newsletter) adminList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := subscribers.Status(q.Get("status"))
	if status != "" && !status.Valid() {
		jsonError(w, http.StatusBadRequest, fmt.Sprintf("status %q is not one of unconfirmed, confirmed, unsubscribed, bounced", status))
		return
	}
	after, limit := int64(0), 100
	if v := q.Get("after"); v != "" {
		var err error
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			jsonError(w, http.StatusBadRequest, "after must be a subscriber id (a whole number)")
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			jsonError(w, http.StatusBadRequest, "limit must be between 1 and 1000")
			return
		}
	}
	subs, err := n.opts.Store.List(r.Context(), status, after, limit)
	if err != nil {
		n.opts.Logger.Error("admin: listing subscribers", "err", err)
		jsonError(w, http.StatusInternalServerError, "listing subscribers failed")
		return
	}
	out := adminList{Subscribers: make([]adminSubscriber, 0, len(subs))}
	for _, s := range subs {
		out.Subscribers = append(out.Subscribers, adminSubscriber{ID: s.ID, Email: s.Email, Name: s.Name, Status: string(s.Status),
			Lists: nonNilList(s.Lists), ConsentAt: s.ConsentAt, ConsentSource: s.ConsentSource, ConsentIP: s.ConsentIP,
			CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt})
	}
	if len(subs) == limit {
		out.NextAfter = subs[len(subs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// adminExport serves GET /admin/subscribers/export?status= as CSV.
func (n *newsletter) adminExport(w http.ResponseWriter, r *http.Request) {
	status := subscribers.Status(r.URL.Query().Get("status"))
	if status != "" && !status.Valid() {
		jsonError(w, http.StatusBadRequest, fmt.Sprintf("status %q is not one of unconfirmed, confirmed, unsubscribed, bounced", status))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="subscribers.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := n.opts.Store.Export(r.Context(), w, status); err != nil {
		// Headers are gone; the truncated body and the log say it failed.
		n.opts.Logger.Error("admin: exporting subscribers", "err", err)
	}
}

// adminDelete serves DELETE /admin/subscribers/{email}: erasure.
func (n *newsletter) adminDelete(w http.ResponseWriter, r *http.Request) {
	id, err := n.opts.Store.Erase(r.Context(), r.PathValue("email"))
	if id != 0 && n.opts.Erased != nil {
		if e := n.opts.Erased(id); e != nil && err == nil {
			err = fmt.Errorf("subscriber %d erased from the store, not from the outbox: %w", id, e)
		}
	}
	switch {
	case errors.Is(err, subscribers.ErrInvalid):
		jsonError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, subscribers.ErrNotFound):
		jsonError(w, http.StatusNotFound, "no subscriber with that address (a suppression record was kept anyway)")
	case err != nil:
		n.opts.Logger.Error("admin: erasing subscriber", "err", err)
		jsonError(w, http.StatusInternalServerError, "erasing the subscriber failed")
	default:
		n.opts.Logger.Info("admin: subscriber erased", "subscriber", id)
		w.WriteHeader(http.StatusNoContent)
	}
}
