package contentfetch

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pngBytes is a small real PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// server is a local web server counting the requests it got.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// newServerOn is newServer listening on a given loopback address.
func newServerOn(t *testing.T, addr string, h http.HandlerFunc) *server {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func reasonOf(t *testing.T, err error) Reason {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *contentfetch.Error", err)
	}
	return fe.Reason
}

func TestRefusesLoopbackWithoutAllowList(t *testing.T) {
	t.Parallel()
	body := pngBytes(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	c := New(Options{})
	for _, u := range []string{
		srv.URL + "/a.png",
		strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/a.png", // a name that resolves to loopback
	} {
		_, err := c.Image(context.Background(), u)
		if err == nil {
			t.Fatalf("%s was fetched", u)
		}
		if r := reasonOf(t, err); r != ReasonBlocked || !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: reason %s, err %v; want blocked", u, r, err)
		}
		if !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "fetch.allow_networks") {
			t.Errorf("error %q should say the address is loopback and name the allow-list", err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("the server got %d requests; the connection should never have been made", n)
	}
}

func TestRefusesRedirectToBlockedAddress(t *testing.T) {
	t.Parallel()
	body := pngBytes(t)
	inner := newServerOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	for _, target := range []string{
		inner.URL + "/secret.png",                  // another loopback address, not allowed
		"http://169.254.169.254/latest/meta-data/", // cloud metadata
		"http://[::1]:9/x.png",                     // IPv6 loopback
		"http://[::ffff:127.0.0.2]:9/x.png",        // IPv4-mapped loopback
		"http://10.0.0.1/x.png",                    // private
	} {
		outer := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, http.StatusFound)
		})
		c := New(Options{Allow: loopbackOnly})
		_, err := c.Fetch(context.Background(), outer.URL+"/img.png")
		if err == nil {
			t.Fatalf("redirect to %s was followed", target)
		}
		if r := reasonOf(t, err); r != ReasonBlocked {
			t.Errorf("redirect to %s: reason %s (%v), want blocked", target, r, err)
		}
		if outer.hits.Load() != 1 {
			t.Errorf("the allowed server got %d requests, want 1", outer.hits.Load())
		}
	}
	if n := inner.hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

func TestAllowListAdmitsIntranet(t *testing.T) {
	t.Parallel()
	body := pngBytes(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(body)
	})
	allow, err := ParseAllow([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{Allow: allow}).Image(context.Background(), srv.URL+"/pics/chart")
	if err != nil {
		t.Fatal(err)
	}
	if res.ContentType != "image/png" || !bytes.Equal(res.Data, body) || res.Name != "chart.png" {
		t.Errorf("got %s %q %d bytes", res.ContentType, res.Name, len(res.Data))
	}
}

func TestCapsAndFailures(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 5000)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big-declared":
			w.Write(big)
		case "/big-chunked":
			w.(http.Flusher).Flush() // no Content-Length
			w.Write(big)
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>not a picture</body></html>"))
		case "/svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
		default:
			http.NotFound(w, r)
		}
	})
	c := New(Options{Allow: loopbackOnly, MaxBytes: 1000, Timeout: 300 * time.Millisecond})
	for path, want := range map[string]Reason{
		"/big-declared": ReasonTooLarge,
		"/big-chunked":  ReasonTooLarge,
		"/slow":         ReasonTimeout,
		"/page":         ReasonNotImage,
		"/svg":          ReasonNotImage,
		"/missing.png":  ReasonStatus,
	} {
		_, err := c.Image(context.Background(), srv.URL+path)
		if err == nil {
			t.Errorf("%s: fetched", path)
			continue
		}
		if got := reasonOf(t, err); got != want {
			t.Errorf("%s: reason %s (%v), want %s", path, got, err, want)
		}
	}
	for _, bad := range []string{"x", "/post/x", "javascript:alert(1)", "file:///etc/passwd", "ftp://example.org/a.png", "https://camaca.example/a.png", "http://x.invalid/a.png", "http://a.test./a.png"} {
		if _, err := c.Fetch(context.Background(), bad); reasonOf(t, err) != ReasonBadURL {
			t.Errorf("%q: %v, want bad-url", bad, err)
		}
	}
}

func TestNonPublic(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "::", "10.1.2.3", "172.16.0.1", "192.168.1.1",
		"169.254.169.254", "fe80::1", "fd00:ec2::254", "fc00::1", "100.100.100.200", "224.0.0.1",
		"ff02::1", "255.255.255.255", "240.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "198.18.0.1",
	} {
		if nonPublic(netip.MustParseAddr(s).Unmap()) == "" {
			t.Errorf("%s counts as public", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"} {
		if why := nonPublic(netip.MustParseAddr(s)); why != "" {
			t.Errorf("%s counts as %s", s, why)
		}
	}
}

func TestParseAllow(t *testing.T) {
	t.Parallel()
	got, err := ParseAllow([]string{"10.0.0.0/8", "192.168.1.20", " fd00::/8 ", "::ffff:10.1.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.20/32", "fd00::/8", "10.1.1.1/32"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("entry %d: %s, want %s", i, p, want[i])
		}
	}
	if _, err := ParseAllow([]string{"intranet.example"}); err == nil {
		t.Error("a host name was accepted")
	}
}

func TestLooksLikeImage(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"https://camaca.example/img/chart.png":                 true,
		"https://camaca.example/img/PHOTO.JPEG?w=800":          true,
		"https://cdn.example/abc123?fm=webp&w=1200":            true,
		"http://camaca.example/post/x":                         false,
		"x":                                                    false,
		"/images/a.png":                                        false,
		"javascript:alert(1)//a.png":                           false,
		"https://camaca.example/wp-content/uploads/report.pdf": false,
	} {
		if got := LooksLikeImage(u); got != want {
			t.Errorf("LooksLikeImage(%q) = %v, want %v", u, got, want)
		}
	}
}
