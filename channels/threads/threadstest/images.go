package threadstest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

// Images is a channels.PublicImages for tests: it serves what is
// published from a local server, where the fake fetches it as Threads
// would fetch from Crier's public address.
type Images struct {
	// Refuse, when set, is Check's answer (http.public_url not public).
	Refuse string

	url   string
	mu    sync.Mutex
	files map[string][]byte
	types map[string]string
	// Fetched counts the requests for each address.
	fetched map[string]int
}

// NewImages starts the server, stopped when t ends.
func NewImages(t *testing.T) *Images {
	im := &Images{files: map[string][]byte{}, types: map[string]string{}, fetched: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		im.mu.Lock()
		data, ok := im.files[r.URL.Path]
		ct := im.types[r.URL.Path]
		im.fetched[r.URL.Path]++
		im.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ct)
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	im.url = srv.URL
	return im
}

// Check is nil unless Refuse is set.
func (im *Images) Check() error {
	if im.Refuse != "" {
		return errors.New(im.Refuse)
	}
	return nil
}

// Publish serves data at a new address.
func (im *Images) Publish(_ context.Context, data []byte, contentType string, _ time.Duration) (string, error) {
	if err := im.Check(); err != nil {
		return "", channels.Permanent(err)
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	path := fmt.Sprintf("/media/%d", len(im.files)+1)
	im.files[path], im.types[path] = data, contentType
	return im.url + path, nil
}

// Fetches is how many times the pictures were fetched.
func (im *Images) Fetches() int {
	im.mu.Lock()
	defer im.mu.Unlock()
	n := 0
	for _, c := range im.fetched {
		n += c
	}
	return n
}
