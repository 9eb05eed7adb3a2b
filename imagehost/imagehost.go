// Package imagehost serves pictures at public addresses under
// http.public_url, for the networks that fetch a post's picture themselves
// instead of taking an upload (Instagram, Threads: Meta's servers fetch it).
// It implements channels.PublicImages.
//
// The pictures are kept in the database (hosted_images), not on disk, so
// that whichever replica Meta's request reaches can answer it. Each is
// served at http.public_url + "/hosted/<id>.<ext>" with a random 128-bit id:
// the address is public and needs no sign-in, but cannot be guessed, and it
// stops answering (404) once the picture's time is up and the row is swept.
package imagehost

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/migrate"
)

// Prefix is the path the pictures are served under.
const Prefix = "/hosted/"

// DefaultMaxBytes bounds a picture: Instagram takes none larger than 8 MB.
const DefaultMaxBytes = 8 << 20

// schema is the table of hosted pictures: the bytes, their type, and until
// when they are served.
var schema = []string{migrate.Dialects(table("BLOB"), table("BYTEA"))}

func table(blob string) string {
	return `
CREATE TABLE hosted_images (
	id           TEXT PRIMARY KEY,
	content_type TEXT NOT NULL,
	data         ` + blob + ` NOT NULL,
	created_at   TIMESTAMP NOT NULL,
	expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX hosted_images_expires ON hosted_images (expires_at);`
}

// extensions are the picture types served, with the extension of their
// address: those whose bytes Go recognises, so that what is served is what
// its bytes are.
var extensions = map[string]string{"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

// Options configure a Host.
type Options struct {
	DB *sql.DB
	// PublicURL is http.public_url: the pictures' addresses start with it.
	PublicURL string
	// MaxBytes bounds a picture; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger takes the failures to read a picture; nil means slog.Default().
	Logger *slog.Logger
	// AllowNonPublicURL accepts a PublicURL that Meta could not reach
	// (http, localhost, a private address). Insecure: tests only.
	AllowNonPublicURL bool
}

// Host stores pictures and serves them; see the package comment.
type Host struct {
	db       *sql.DB
	base     string
	maxBytes int64
	now      func() time.Time
	log      *slog.Logger
	check    error
}

var _ channels.PublicImages = (*Host)(nil)

// Prepare creates or migrates the table in db.
func Prepare(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "imagehost", schema)
}

// Open prepares the table and returns the host. A PublicURL that cannot
// serve pictures is not an error here: Check says why, to the channels that
// need it, so that a campaign without Instagram runs as before.
func Open(ctx context.Context, o Options) (*Host, error) {
	if o.DB == nil {
		return nil, errors.New("imagehost: no database")
	}
	if err := Prepare(ctx, o.DB); err != nil {
		return nil, err
	}
	h := &Host{db: o.DB, base: strings.TrimRight(o.PublicURL, "/"), maxBytes: o.MaxBytes, now: o.Now}
	if h.maxBytes <= 0 {
		h.maxBytes = DefaultMaxBytes
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log = o.Logger; h.log == nil {
		h.log = slog.Default()
	}
	h.check = checkPublicURL(o.PublicURL, o.AllowNonPublicURL)
	return h, nil
}

// Check says why pictures cannot be served from here, or nil.
func (h *Host) Check() error { return h.check }

// Publish stores a picture and returns its address, served for keep (until
// a sweep after that). A picture that is not a JPEG, PNG, GIF or WebP, or is
// larger than the bound, is a Permanent error, as is a failed Check.
func (h *Host) Publish(ctx context.Context, data []byte, contentType string, keep time.Duration) (string, error) {
	if h.check != nil {
		return "", channels.Permanent(h.check)
	}
	if keep <= 0 {
		return "", channels.Permanent(fmt.Errorf("imagehost: a picture must be kept for some time, not %v", keep))
	}
	if int64(len(data)) > h.maxBytes {
		return "", channels.Permanent(fmt.Errorf("the picture is %.1f MB, more than the %.0f MB Instagram and Threads accept: use a smaller one",
			float64(len(data))/(1<<20), float64(h.maxBytes)/(1<<20)))
	}
	typ, ok := contentfetch.ImageType(data, contentType)
	ext := extensions[typ]
	if !ok || ext == "" {
		return "", channels.Permanent(fmt.Errorf("the picture is %s (declared %q), not a JPEG, PNG, GIF or WebP that can be served for Instagram and Threads", typ, contentType))
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("imagehost: choosing an address: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	now := h.now().UTC()
	_, err := h.db.ExecContext(ctx, `INSERT INTO hosted_images (id, content_type, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		id, typ, data, now, now.Add(keep))
	if err != nil {
		return "", channels.Temporary(fmt.Errorf("storing the picture to serve it: %w", err))
	}
	return h.base + Prefix + id + "." + ext, nil
}

// Sweep deletes the pictures whose time is up, and returns how many.
func (h *Host) Sweep(ctx context.Context) (int64, error) {
	res, err := h.db.ExecContext(ctx, `DELETE FROM hosted_images WHERE expires_at <= $1`, h.now().UTC())
	if err != nil {
		return 0, fmt.Errorf("deleting pictures no longer served: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
