package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// limitsTTL is how long the instance's limits are trusted before they are
// read again.
const limitsTTL = 24 * time.Hour

// cachedLimits holds the instance's limits in memory and, when the daemon has
// a data folder, on disk so that a restart while the instance is down still
// formats with the right budget.
type cachedLimits struct {
	mu        sync.Mutex
	limits    Limits
	fetchedAt time.Time // zero: never read from the instance
	file      string    // "" when there is no data folder
}

func (c *cachedLimits) get() Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits
}

func (c *cachedLimits) stale(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetchedAt.IsZero() || now.Sub(c.fetchedAt) >= limitsTTL
}

type limitsFile struct {
	Instance  string    `json:"instance"`
	Limits    Limits    `json:"limits"`
	FetchedAt time.Time `json:"fetched_at"`
}

// load reads the disk cache for instance; it is used only until the
// instance answers.
func (c *cachedLimits) load(instance string) bool {
	if c.file == "" {
		return false
	}
	b, err := os.ReadFile(c.file)
	if err != nil {
		return false
	}
	var f limitsFile
	if json.Unmarshal(b, &f) != nil || f.Instance != instance || f.Limits.MaxCharacters <= 0 {
		return false
	}
	c.mu.Lock()
	c.limits = f.Limits
	c.mu.Unlock()
	return true
}

func (c *cachedLimits) set(instance string, l Limits, now time.Time) error {
	c.mu.Lock()
	c.limits, c.fetchedAt = l, now
	c.mu.Unlock()
	if c.file == "" {
		return nil
	}
	b, err := json.MarshalIndent(limitsFile{Instance: instance, Limits: l, FetchedAt: now}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.file), 0o755); err != nil {
		return fmt.Errorf("caching instance limits: %w", err)
	}
	// A temporary file of its own, so concurrent refreshes never rename a
	// half-written file into place.
	tmp, err := os.CreateTemp(filepath.Dir(c.file), ".mastodon-instance-*.json")
	if err != nil {
		return fmt.Errorf("caching instance limits: %w", err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("caching instance limits: %w", werr)
	}
	if err := os.Rename(tmp.Name(), c.file); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("caching instance limits: %w", err)
	}
	return nil
}

// instanceInfo is the part of GET /api/v2/instance and /api/v1/instance that
// matters here.
type instanceInfo struct {
	Version       string `json:"version"`
	SourceURL     string `json:"source_url"`
	MaxTootChars  int    `json:"max_toot_chars"` // GoToSocial and Pleroma, v1
	Configuration struct {
		Statuses struct {
			MaxCharacters            int `json:"max_characters"`
			CharactersReservedPerURL int `json:"characters_reserved_per_url"`
		} `json:"statuses"`
		MediaAttachments struct {
			DescriptionLimit int `json:"description_limit"`
		} `json:"media_attachments"`
	} `json:"configuration"`
}

// fetchLimits reads the instance's limits: /api/v2/instance, else
// /api/v1/instance, else Mastodon's defaults.
func fetchLimits(ctx context.Context, client *http.Client, instance string) (Limits, error) {
	var errs []error
	for _, path := range []string{"/api/v2/instance", "/api/v1/instance"} {
		info, err := getInstance(ctx, client, strings.TrimRight(instance, "/")+path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l := Limits{
			MaxCharacters:            info.Configuration.Statuses.MaxCharacters,
			CharactersReservedPerURL: info.Configuration.Statuses.CharactersReservedPerURL,
			DescriptionLimit:         info.Configuration.MediaAttachments.DescriptionLimit,
		}
		if l.MaxCharacters <= 0 {
			l.MaxCharacters = info.MaxTootChars
		}
		if l.MaxCharacters <= 0 {
			errs = append(errs, fmt.Errorf("%s has no max_characters", path))
			continue
		}
		if l.CharactersReservedPerURL <= 0 {
			l.CharactersReservedPerURL = defaultLimits().CharactersReservedPerURL
		}
		// GoToSocial advertises characters_reserved_per_url but counts every
		// code point of the text, URLs included.
		if strings.Contains(strings.ToLower(info.SourceURL+" "+info.Version), "gotosocial") {
			l.CountRunes = true
		}
		return l, nil
	}
	return defaultLimits(), errors.Join(errs...)
}

func getInstance(ctx context.Context, client *http.Client, url string) (*instanceInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("reading instance limits: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading instance limits: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading instance limits: GET %s: %s", req.URL.Path, resp.Status)
	}
	var info instanceInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("reading instance limits from %s: %w", req.URL.Path, err)
	}
	return &info, nil
}
