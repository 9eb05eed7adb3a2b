package console

import (
	"bytes"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Sixty live previews with an 8 MB picture each (the attack) leave
// the cache, and the process's heap, within the documented bounds. Not
// parallel: it measures the heap.
func TestPreviewsCannotExhaustMemory(t *testing.T) {
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	image := append(pngHeader(), make([]byte, maxImage-len(pngHeader()))...)
	body, ctype := multipartForm(t, map[string]string{"csrf": tok, "title": "Big", "body": "A picture.", "alt": "Noise"}, "image", "big.png", image)
	form, _ := readAll(body)
	image = nil
	before := heapAfterGC()
	for i := 0; i < 60; i++ {
		req, _ := http.NewRequest("POST", b.srv.URL+"/preview", bytes.NewReader(form))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("X-Crier-Fragment", "1")
		resp, err := editor.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if p := readPage(t, resp); p.status != 200 || !strings.Contains(p.body, "/preview/image/") {
			t.Fatalf("preview %d: %d", i, p.status)
		}
	}
	after := heapAfterGC()
	pc := b.c.previews
	pc.mu.Lock()
	var person usage // the editor's: the only person previewing
	for _, u := range pc.people {
		person = u
	}
	people, all := len(pc.people), pc.total
	pc.mu.Unlock()
	// The bounds docs/console.md states: 32 previews and 24 MiB a person.
	const documented = 24 << 20
	if !person.within(usage{32, documented}) || all.bytes > documented || people != 1 {
		t.Fatalf("the cache holds %+v for the editor, %+v in all", person, all)
	}
	// Generous: the cache's bound plus room for the server's buffers.
	grown := int64(after) - int64(before)
	t.Logf("heap %d MiB before, %d MiB after; the cache holds %d previews, %d MiB", before>>20, after>>20, all.count, all.bytes>>20)
	if limit := int64(documented + 32<<20); grown > limit {
		t.Fatalf("the heap grew by %d MiB after 60 previews (bound %d MiB)", grown>>20, limit>>20)
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func TestPreviewCacheBoundsPerPersonAndInAll(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 5, 1, 9, 0, 0, 0, time.UTC)
	pc := newPreviewCache(func() time.Time { return now })
	pc.perPerson, pc.inAll = usage{3, 1 << 20}, usage{5, 2 << 20}
	var keys []string
	for i := 0; i < 3; i++ {
		keys = append(keys, pc.put(1, "page"))
	}
	pc.get(1, keys[0]) // used again: keys[1] is now the least recently used
	pc.put(1, "page")
	if _, ok := pc.get(1, keys[1]); ok {
		t.Fatal("over its count, a person's least recently used preview stayed")
	}
	if _, ok := pc.get(1, keys[0]); !ok {
		t.Fatal("a recently used preview went")
	}
	// Bytes per person: a picture of 600 KiB pushes out the person's older
	// entries, not someone else's.
	other := pc.put(2, "page")
	big := pc.putImage(1, make([]byte, 600<<10), "image/png")
	pc.putImage(1, make([]byte, 600<<10), "image/png")
	if _, _, ok := pc.getImage(1, big); ok {
		t.Fatal("over its bytes, a person's older picture stayed")
	}
	if _, ok := pc.get(2, other); !ok {
		t.Fatal("one person's previews pushed out another's while under the total")
	}
	// In all: the least recently used, whoever's (other was used after
	// the person's last picture).
	last := pc.putImage(1, make([]byte, 100), "image/png")
	pc.get(2, other)
	for u := int64(3); u < 7; u++ {
		pc.put(u, "page")
	}
	if _, _, ok := pc.getImage(1, last); ok || pc.total.count > 5 {
		t.Fatalf("over the total count (%+v) the least recently used stayed", pc.total)
	}
	if _, ok := pc.get(2, other); !ok {
		t.Fatal("the total bound took a recently used preview")
	}
	// Too big for anyone: not kept.
	if _, _, ok := pc.getImage(7, pc.putImage(7, make([]byte, 2<<20), "image/png")); ok {
		t.Fatal("a picture larger than a person's bound was kept")
	}
	// Unused for longer than the TTL: gone, and the counts with it.
	now = now.Add(previewTTL + time.Second)
	pc.put(8, "page")
	if pc.total.count != 1 || len(pc.people) != 1 {
		t.Fatalf("after the TTL: %+v, %d people", pc.total, len(pc.people))
	}
}
