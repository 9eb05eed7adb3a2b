package imagehost

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxCache bounds how long a fetcher may keep a picture without asking
// again: a picture never changes at its address, but stops being served
// when its time is up.
const maxCache = time.Hour

// ServeHTTP answers GET and HEAD for Prefix + "<id>.<ext>": the picture
// with its type, length and headers that keep a browser from reading it as
// anything but a picture, or 404 when no picture of that id is served now.
// It needs no sign-in: Meta's servers fetch it.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Referrer-Policy", "no-referrer")
	id, ext, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, Prefix), ".")
	if !ok || !validID(id) {
		http.NotFound(w, r)
		return
	}
	typ, data, created, expires, err := h.lookup(r.Context(), id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (extensions[typ] != ext || !h.now().Before(expires))) {
		w.Header().Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.log.Warn("imagehost: reading a picture to serve", "err", err)
		http.Error(w, "the picture cannot be read just now", http.StatusServiceUnavailable)
		return
	}
	age := min(expires.Sub(h.now()), maxCache)
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(age.Seconds())))
	// ServeContent sets Content-Length, answers HEAD without the body and
	// takes Range and If-Modified-Since requests.
	http.ServeContent(w, r, "", created, bytes.NewReader(data))
}

func (h *Host) lookup(ctx context.Context, id string) (typ string, data []byte, created, expires time.Time, err error) {
	err = h.db.QueryRowContext(ctx, `SELECT content_type, data, created_at, expires_at FROM hosted_images WHERE id = $1`, id).
		Scan(&typ, &data, &created, &expires)
	return typ, data, created, expires, err
}

// validID reports whether id is as Publish writes them (32 lower-case hex
// digits), so that nothing else reaches the database.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// SweepInterval is how often the daemon deletes pictures whose time is up.
const SweepInterval = 10 * time.Minute

// SweepEvery deletes the pictures whose time is up, now and every interval
// until ctx ends.
func (h *Host) SweepEvery(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := h.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Warn("imagehost: "+err.Error()+"; trying again later", "every", every)
		} else if n > 0 {
			log.Debug("imagehost: deleted pictures no longer served", "pictures", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
