// Package outbox provides the sender used when a channel has no credentials:
// it writes each payload to a local folder (data/outbox/<channel>/) instead of
// sending it, so organisers can see exactly what would go out.
package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/crierhq/crier/channels"
)

// Sender writes payloads under Dir/<channel>/.
type Sender struct {
	Dir string
}

// New returns an outbox sender rooted at dir.
func New(dir string) *Sender { return &Sender{Dir: dir} }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileBase names a post's files: readable, and unique even when two ids
// differ only in characters that are not safe in file names.
func FileBase(postID string) string {
	sum := sha256.Sum256([]byte(postID))
	name := unsafeChars.ReplaceAllString(postID, "-")
	if len(name) > 80 {
		name = name[:80]
	}
	return name + "-" + hex.EncodeToString(sum[:4])
}

// Send writes p as <base>.json plus its extra renderings (<base>.eml, ...).
// Writing is idempotent: a retry overwrites the same files.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	dir := filepath.Join(s.Dir, d.Channel)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return channels.Receipt{}, channels.Temporary(fmt.Errorf("creating outbox folder %s: %w", dir, err))
	}
	base := FileBase(d.PostID)
	js, err := channels.MarshalIndent(p)
	if err != nil {
		return channels.Receipt{}, channels.Permanent(err)
	}
	jsonPath := filepath.Join(dir, base+".json")
	if err := writeAtomic(jsonPath, js); err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	for _, f := range p.Files {
		ext := filepath.Ext(f.Name)
		if err := writeAtomic(filepath.Join(dir, base+ext), f.Data); err != nil {
			return channels.Receipt{}, channels.Temporary(err)
		}
	}
	abs, _ := filepath.Abs(jsonPath)
	return channels.Receipt{RemoteID: "outbox:" + base, RemoteURL: "file://" + abs}, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
