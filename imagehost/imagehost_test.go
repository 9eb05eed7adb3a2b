package imagehost_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/imagehost"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
)

// TestMain stops the package's PostgreSQL when its tests end.
func TestMain(m *testing.M) { os.Exit(postgres.Main(m)) }

const publicURL = "https://crier.hartleypark.org.uk"

type bundle struct {
	host *imagehost.Host
	srv  *httptest.Server
	opts imagehost.Options
	mu   sync.Mutex
	now  time.Time
}

func (b *bundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *bundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// dialects runs a test on SQLite and on PostgreSQL.
func dialects(t *testing.T, test func(t *testing.T, b *bundle)) {
	for _, driver := range sqldb.Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			test(t, setup(t, driver))
		})
	}
}

// setup opens a host on a fresh database, served by a test server as the
// daemon mounts it.
func setup(t *testing.T, driver string) *bundle {
	t.Helper()
	target := filepath.Join(t.TempDir(), "crier.db")
	if driver == string(sqldb.Postgres) {
		target = postgres.DSN(t)
	}
	db, err := sqldb.Open(context.Background(), driver, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &bundle{now: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)}
	b.opts = imagehost.Options{DB: db, PublicURL: publicURL, Now: b.clock}
	b.host = b.open(t, b.opts)
	b.srv = httptest.NewServer(b.mux(b.host))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) open(t *testing.T, o imagehost.Options) *imagehost.Host {
	t.Helper()
	h, err := imagehost.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (b *bundle) mux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(imagehost.Prefix, h)
	return mux
}

// local is the test server's address of a published picture.
func (b *bundle) local(t *testing.T, address string) string {
	t.Helper()
	path, ok := strings.CutPrefix(address, publicURL)
	if !ok {
		t.Fatalf("address %q is not under %s", address, publicURL)
	}
	return b.srv.URL + path
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (b *bundle) publish(t *testing.T, data []byte, keep time.Duration) string {
	t.Helper()
	address, err := b.host.Publish(context.Background(), data, "image/png", keep)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return address
}

func request(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

var addressForm = regexp.MustCompile(`^` + regexp.QuoteMeta(publicURL) + `/hosted/[0-9a-f]{32}\.png$`)

func TestPublishServesThePicture(t *testing.T) {
	dialects(t, func(t *testing.T, b *bundle) {
		data := pngBytes(t)
		address := b.publish(t, data, time.Hour)
		if !addressForm.MatchString(address) {
			t.Fatalf("address %q, want %s/hosted/<32 hex digits>.png", address, publicURL)
		}
		if again := b.publish(t, data, time.Hour); again == address {
			t.Errorf("the same picture published twice got the same address %s, want a new random one", again)
		}
		res, body := request(t, http.MethodGet, b.local(t, address))
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("GET: %s, %d bytes; want 200 and the picture", res.Status, len(body))
		}
		want := map[string]string{
			"Content-Type":            "image/png",
			"Content-Length":          strconv.Itoa(len(data)),
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; sandbox",
			"Cache-Control":           "public, max-age=3600",
		}
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("GET %s: %q, want %q", k, got, v)
			}
		}
		res, body = request(t, http.MethodHead, b.local(t, address))
		if res.StatusCode != http.StatusOK || len(body) != 0 || res.Header.Get("Content-Length") != strconv.Itoa(len(data)) || res.Header.Get("Content-Type") != "image/png" {
			t.Errorf("HEAD: %s, body %d bytes, length %q, type %q", res.Status, len(body), res.Header.Get("Content-Length"), res.Header.Get("Content-Type"))
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			if res, _ := request(t, m, b.local(t, address)); res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s: %s, want 405", m, res.Status)
			}
		}
	})
}

func TestUnknownAddressesAre404(t *testing.T) {
	dialects(t, func(t *testing.T, b *bundle) {
		address := b.local(t, b.publish(t, pngBytes(t), time.Hour))
		for _, u := range []string{
			b.srv.URL + "/hosted/00000000000000000000000000000000.png",
			strings.TrimSuffix(address, ".png") + ".jpg",
			strings.TrimSuffix(address, ".png"),
			b.srv.URL + "/hosted/../etc/passwd",
			b.srv.URL + "/hosted/' OR 1=1 --.png",
			b.srv.URL + "/hosted/",
		} {
			if res, body := request(t, http.MethodGet, u); res.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("PNG")) {
				t.Errorf("GET %s: %s, want 404", u, res.Status)
			}
		}
	})
}

// A picture stops being served when its time is up, and the sweep deletes
// it; one still in its time stays.
func TestExpiredPicturesAreGone(t *testing.T) {
	dialects(t, func(t *testing.T, b *bundle) {
		short := b.local(t, b.publish(t, pngBytes(t), 10*time.Minute))
		long := b.local(t, b.publish(t, pngBytes(t), 2*time.Hour))
		b.advance(9 * time.Minute)
		if res, _ := request(t, http.MethodGet, short); res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("a minute before its end: %s, Cache-Control %q; want 200 cached at most the minute left", res.Status, res.Header.Get("Cache-Control"))
		}
		b.advance(time.Minute)
		if res, _ := request(t, http.MethodGet, short); res.StatusCode != http.StatusNotFound {
			t.Errorf("at its end, not yet swept: %s, want 404", res.Status)
		}
		n, err := b.host.Sweep(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want the one expired picture deleted", n, err)
		}
		if res, _ := request(t, http.MethodGet, long); res.StatusCode != http.StatusOK {
			t.Errorf("the picture still in its time: %s, want 200", res.Status)
		}
		if n, err := b.host.Sweep(context.Background()); err != nil || n != 0 {
			t.Errorf("second Sweep = %d, %v; want nothing", n, err)
		}
	})
}

// Any replica serves a picture another published: they share the database.
func TestAnotherReplicaServesThePicture(t *testing.T) {
	dialects(t, func(t *testing.T, b *bundle) {
		other := httptest.NewServer(b.mux(b.open(t, b.opts)))
		defer other.Close()
		address := b.publish(t, pngBytes(t), time.Hour)
		if res, _ := request(t, http.MethodGet, other.URL+strings.TrimPrefix(address, publicURL)); res.StatusCode != http.StatusOK {
			t.Errorf("the other replica: %s, want 200", res.Status)
		}
	})
}

func permanent(err error) bool {
	var e *channels.Error
	return errors.As(err, &e) && e.Kind == channels.KindPermanent
}

func TestPublishRefuses(t *testing.T) {
	dialects(t, func(t *testing.T, b *bundle) {
		o := b.opts
		o.MaxBytes = 1 << 20
		small := b.open(t, o)
		_, err := small.Publish(context.Background(), append(pngBytes(t), make([]byte, 1<<20)...), "image/png", time.Hour)
		if !permanent(err) || !strings.Contains(err.Error(), "MB") {
			t.Errorf("too large: %v, want a Permanent error giving the bound", err)
		}
		for _, bad := range [][]byte{[]byte("<html><script>alert(1)</script>"), []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), nil} {
			_, err := b.host.Publish(context.Background(), bad, "image/png", time.Hour)
			if !permanent(err) || !strings.Contains(err.Error(), "not a JPEG, PNG, GIF or WebP") {
				t.Errorf("%.20q: %v, want a Permanent error", bad, err)
			}
		}
		if _, err := b.host.Publish(context.Background(), pngBytes(t), "image/png", 0); err == nil {
			t.Errorf("kept for 0: no error")
		}
	})
}

func TestCheckRefusesAddressesMetaCannotReach(t *testing.T) {
	t.Parallel()
	db, err := sqldb.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for url, want := range map[string]string{
		"":                             "http.public_url is empty",
		"crier.hartleypark.org.uk":     "is not an address like",
		"http://crier.hartleypark.org": "is not https",
		"https://localhost:8080":       "only your own network knows",
		"https://crier.localhost":      "only your own network knows",
		"https://crier.local":          "only your own network knows",
		"https://crier.home.arpa":      "only your own network knows",
		"https://crier":                "a single name",
		"https://crier.example":        "reserved never to resolve",
		"https://127.0.0.1":            "loopback",
		"https://[::1]:8443":           "loopback",
		"https://10.1.2.3":             "private",
		"https://192.168.1.20":         "private",
		"https://[fd00::1]":            "private",
		"https://169.254.169.254":      "link-local",
		"https://100.64.1.1":           "carrier-grade NAT",
		"https://[::ffff:10.0.0.1]":    "private",
		"https://0.0.0.0":              "unspecified",
		publicURL:                      "",
		"https://203.0.113.0.nip.io/x": "",
		"https://8.8.8.8":              "",
	} {
		h, err := imagehost.Open(context.Background(), imagehost.Options{DB: db, PublicURL: url})
		if err != nil {
			t.Fatal(err)
		}
		got := h.Check()
		if want == "" {
			if got != nil {
				t.Errorf("%q: %v, want it accepted", url, got)
			}
			continue
		}
		if got == nil || !strings.Contains(got.Error(), want) || !strings.Contains(got.Error(), "set http.public_url to the https address") {
			t.Errorf("%q: %v, want a refusal saying %q and what to set", url, got, want)
			continue
		}
		if _, err := h.Publish(context.Background(), pngBytes(t), "image/png", time.Hour); !permanent(err) || err.Error() != got.Error() {
			t.Errorf("%q: Publish = %v, want Check's refusal as a Permanent error", url, err)
		}
	}
	// Tests serve from a loopback http address, and say so.
	h, err := imagehost.Open(context.Background(), imagehost.Options{DB: db, PublicURL: "http://127.0.0.1:8080", AllowNonPublicURL: true})
	if err != nil || h.Check() != nil {
		t.Errorf("AllowNonPublicURL: %v, %v; want it accepted", err, h.Check())
	}
}
