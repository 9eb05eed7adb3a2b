package graphapitest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Images is a fake channels.PublicImages for the Instagram channel's
// tests: it serves what is published from a local http server. Instagram
// fetches only https addresses, so a Fake fetching from it must be told
// so explicitly (AllowHTTPImages).
type Images struct {
	URL string

	mu       sync.Mutex
	files    map[string]servedImage
	checkErr error
}

type servedImage struct {
	data []byte
	ct   string
}

// NewImages starts the server, stopped when t ends.
func NewImages(t *testing.T) *Images {
	t.Helper()
	im := &Images{files: map[string]servedImage{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		im.mu.Lock()
		f, ok := im.files[strings.TrimPrefix(r.URL.Path, "/media/")]
		im.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.ct)
		w.Write(f.data)
	}))
	t.Cleanup(srv.Close)
	im.URL = srv.URL
	return im
}

// FailCheck makes Check (and Publish) answer err, as a daemon whose
// http.public_url is not public would; nil undoes it.
func (im *Images) FailCheck(err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.checkErr = err
}

// Check is nil unless FailCheck said otherwise.
func (im *Images) Check() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.checkErr
}

// Publish serves data until the server stops (keep must be positive).
func (im *Images) Publish(ctx context.Context, data []byte, contentType string, keep time.Duration) (string, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.checkErr != nil {
		return "", im.checkErr
	}
	if keep <= 0 || len(data) == 0 {
		return "", errors.New("graphapitest: nothing to publish, or for no time")
	}
	name := fmt.Sprintf("%d", len(im.files)+1)
	im.files[name] = servedImage{data: data, ct: contentType}
	return im.URL + "/media/" + name, nil
}

// Published returns how many pictures were published.
func (im *Images) Published() int {
	im.mu.Lock()
	defer im.mu.Unlock()
	return len(im.files)
}
