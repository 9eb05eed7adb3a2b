package feed

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFetchConditionalGET(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "wordpress.xml"))
	if err != nil {
		t.Fatal(err)
	}
	const etag, lastMod = `"v1"`, "Thu, 09 Nov 2023 10:12:45 GMT"
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lastMod {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		w.Header().Set("Content-Type", "application/rss+xml; charset=UTF-8")
		w.Write(doc)
	}))
	defer srv.Close()

	f := &Fetcher{Client: srv.Client(), UserAgent: "Crier test"}
	first, err := f.Fetch(t.Context(), "news", srv.URL+"/feed/", Conditional{})
	if err != nil {
		t.Fatal(err)
	}
	if first.NotModified || len(first.Items) != 2 || first.Conditional != (Conditional{ETag: etag, LastModified: lastMod}) {
		t.Fatalf("first fetch: not modified %v, %d items, %+v", first.NotModified, len(first.Items), first.Conditional)
	}

	// The second poll sends both validators; a 304 is NotModified with
	// nothing parsed and the validators kept for next time.
	second, err := f.Fetch(t.Context(), "news", srv.URL+"/feed/", first.Conditional)
	if err != nil {
		t.Fatal(err)
	}
	if !second.NotModified || second.Items != nil || second.Title != "" || second.Conditional != first.Conditional {
		t.Errorf("second fetch: %+v", second)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests", len(seen))
	}
	if h := seen[0]; h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" || h.Get("User-Agent") != "Crier test" || !strings.Contains(h.Get("Accept"), "application/rss+xml") {
		t.Errorf("first request headers %v", h)
	}
	if h := seen[1]; h.Get("If-None-Match") != etag || h.Get("If-Modified-Since") != lastMod {
		t.Errorf("second request sent If-None-Match %q, If-Modified-Since %q", h.Get("If-None-Match"), h.Get("If-Modified-Since"))
	}
}

// Relative links resolve against the address the feed was fetched from
// (after redirects) when the feed names no link of its own.
func TestFetchResolvesAgainstFetchURL(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/site/feed.xml", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/site/feed.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<rss version="2.0"><channel><title>t</title><item><title>a</title><link>news/a</link><description>&lt;a href="b"&gt;b&lt;/a&gt;</description></item></channel></rss>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := (&Fetcher{Client: srv.Client()}).Fetch(t.Context(), "news", srv.URL+"/old", Conditional{})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Items[0].Post
	if p.Link != srv.URL+"/site/news/a" || !strings.Contains(p.Body, "]("+srv.URL+"/site/news/b)") {
		t.Errorf("link %q body %q", p.Link, p.Body)
	}
}

func TestFetchErrors(t *testing.T) {
	big := strings.Repeat("x", 2048)
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<rss version="2.0"><channel><title>` + big + `</title></channel></rss>`))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<rss version="2.0"><channel><title>`))
		w.(http.Flusher).Flush() // no Content-Length: the limit is found while reading
		w.Write([]byte(big + `</title></channel></rss>`))
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<!DOCTYPE html><html><body>Our new website</body></html>"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := &Fetcher{Client: srv.Client(), MaxBytes: 1024}

	userURL, _ := url.Parse(srv.URL)
	userURL.User = url.UserPassword("crier", "s3cret-pass")

	tests := []struct {
		name, url string
		want      []string
	}{
		{"server error", srv.URL + "/500", []string{"500 Internal Server Error"}},
		{"not found", srv.URL + "/404", []string{"404 Not Found"}},
		{"too big", srv.URL + "/big", []string{"over the limit of 1024"}},
		{"too big without length", srv.URL + "/big-chunked", []string{"over the limit of 1024"}},
		{"not a feed", srv.URL + "/html", []string{"not an RSS, Atom or JSON feed", "<!DOCTYPE html>"}},
		{"password is hidden", userURL.String() + "/404", []string{"404 Not Found", "crier:xxxxx@"}},
		{"refused", "http://127.0.0.1:1/feed", []string{"fetching"}},
		{"unsupported scheme", "ftp://camaca.example/feed", []string{`unsupported scheme "ftp"`}},
		{"missing file", filepath.Join(t.TempDir(), "nope.xml"), []string{"nope.xml", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Fetch(t.Context(), "news", tt.url, Conditional{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, `feed "news"`) {
				t.Errorf("error %q does not name the feed", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "s3cret-pass") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := f.Fetch(ctx, "news", srv.URL+"/slow", Conditional{})
		if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), srv.URL+"/slow") {
			t.Errorf("error %v", err)
		}
	})
}

func TestFetchLocalFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.xml")
	write := func(title string, mtime time.Time) {
		t.Helper()
		doc := `<rss version="2.0"><channel><title>Local</title><link>https://camaca.example/</link><item><title>` + title + `</title><link>/news/x</link><guid>x</guid></item></channel></rss>`
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)
	write("First", t0)

	var f Fetcher
	for _, addr := range []string{path, "file://" + filepath.ToSlash(path)} {
		res, err := f.Fetch(t.Context(), "local", addr, Conditional{})
		if err != nil {
			t.Fatal(err)
		}
		if res.NotModified || len(res.Items) != 1 || res.Items[0].Post.Link != "https://camaca.example/news/x" {
			t.Fatalf("%s: %+v", addr, res)
		}
		if res.Conditional.LastModified != "Sat, 01 Jun 2024 09:00:00 GMT" {
			t.Errorf("last modified %q", res.Conditional.LastModified)
		}
		again, err := f.Fetch(t.Context(), "local", addr, res.Conditional)
		if err != nil {
			t.Fatal(err)
		}
		if !again.NotModified || again.Items != nil {
			t.Errorf("%s: unchanged file was not NotModified: %+v", addr, again)
		}
	}

	res, _ := f.Fetch(t.Context(), "local", path, Conditional{})
	// An edit within the same second still counts.
	write("Second", t0.Add(time.Millisecond))
	edited, err := f.Fetch(t.Context(), "local", path, res.Conditional)
	if err != nil {
		t.Fatal(err)
	}
	if edited.NotModified || edited.Items[0].Post.Title != "Second" {
		t.Errorf("edited file: %+v", edited)
	}

	if _, err := (&Fetcher{MaxBytes: 10}).Fetch(t.Context(), "local", path, Conditional{}); err == nil || !strings.Contains(err.Error(), "over the limit of 10") {
		t.Errorf("size limit: %v", err)
	}
	if _, err := f.Fetch(t.Context(), "local", dir, Conditional{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: %v", err)
	}
}
