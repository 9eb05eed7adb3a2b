package console

import (
	"container/list"
	"sync"
	"time"
)

// The preview cache's bounds (docs/console.md): what one person's previews
// may hold, and what everyone's may. A chosen picture is up to 8 MB, so a
// person keeps their last few; beyond a bound the least recently used
// preview goes first, and nothing is kept longer than previewTTL.
const (
	previewsPerPerson     = 32
	previewBytesPerPerson = 24 << 20
	previewsInAll         = 512
	previewBytesInAll     = 96 << 20
	previewTTL            = 10 * time.Minute
)

// usage is what a set of cached previews holds.
type usage struct{ count, bytes int }

func (u usage) within(limit usage) bool { return u.count <= limit.count && u.bytes <= limit.bytes }

// previewCache keeps rendered newsletters and chosen (not yet saved)
// pictures for a few minutes so that the live preview's frame and cards can
// load them by key, within bounds per person and in all, so that nobody can
// fill the daemon's memory by previewing.
type previewCache struct {
	mu        sync.Mutex
	now       func() time.Time
	perPerson usage
	inAll     usage
	byKey     map[string]*list.Element // of *cachedPreview
	lru       *list.List               // most recently used first
	people    map[int64]usage
	total     usage
}

type cachedPreview struct {
	key    string
	html   string
	image  []byte // a chosen, not yet saved picture (html is then its type)
	userID int64
	at     time.Time // last used
}

// size is what an entry holds in memory, the map and list entries included.
func (e *cachedPreview) size() int { return len(e.html) + cap(e.image) + len(e.key) + 200 }

func newPreviewCache(now func() time.Time) *previewCache {
	return &previewCache{now: now, perPerson: usage{previewsPerPerson, previewBytesPerPerson},
		inAll: usage{previewsInAll, previewBytesInAll}, byKey: map[string]*list.Element{}, lru: list.New(), people: map[int64]usage{}}
}

func (p *previewCache) put(userID int64, html string) string {
	return p.putEntry(&cachedPreview{html: html, userID: userID})
}

func (p *previewCache) putImage(userID int64, data []byte, contentType string) string {
	if cap(data) > len(data) {
		data = append(make([]byte, 0, len(data)), data...) // keep only what the picture needs
	}
	return p.putEntry(&cachedPreview{html: contentType, image: data, userID: userID})
}

func (p *previewCache) getImage(userID int64, key string) ([]byte, string, bool) {
	e, ok := p.use(userID, key)
	if !ok || e.image == nil {
		return nil, "", false
	}
	return e.image, e.html, true
}

func (p *previewCache) get(userID int64, key string) (string, bool) {
	e, ok := p.use(userID, key)
	if !ok || e.image != nil {
		return "", false
	}
	return e.html, true
}

// use finds a person's entry and marks it used.
func (p *previewCache) use(userID int64, key string) (*cachedPreview, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire()
	el, ok := p.byKey[key]
	if !ok || el.Value.(*cachedPreview).userID != userID {
		return nil, false
	}
	e := el.Value.(*cachedPreview)
	e.at = p.now()
	p.lru.MoveToFront(el)
	return e, true
}

// putEntry stores e under a new key, first making room for it: the
// person's least recently used previews, then anyone's. An entry larger
// than a person may hold is not kept (its key then finds nothing).
func (p *previewCache) putEntry(e *cachedPreview) string {
	e.key = randomToken()
	size := e.size()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire()
	if !(usage{1, size}).within(p.perPerson) {
		return e.key
	}
	for !p.people[e.userID].add(1, size).within(p.perPerson) {
		p.remove(p.oldestOf(e.userID))
	}
	for !p.total.add(1, size).within(p.inAll) {
		p.remove(p.lru.Back())
	}
	e.at = p.now()
	p.byKey[e.key] = p.lru.PushFront(e)
	p.people[e.userID] = p.people[e.userID].add(1, size)
	p.total = p.total.add(1, size)
	return e.key
}

func (u usage) add(count, bytes int) usage { return usage{u.count + count, u.bytes + bytes} }

// expire drops what has not been used for previewTTL (the least recently
// used are at the back).
func (p *previewCache) expire() {
	now := p.now()
	for el := p.lru.Back(); el != nil && now.Sub(el.Value.(*cachedPreview).at) > previewTTL; el = p.lru.Back() {
		p.remove(el)
	}
}

// oldestOf is a person's least recently used entry; they have one when
// called.
func (p *previewCache) oldestOf(userID int64) *list.Element {
	for el := p.lru.Back(); el != nil; el = el.Prev() {
		if el.Value.(*cachedPreview).userID == userID {
			return el
		}
	}
	return nil
}

func (p *previewCache) remove(el *list.Element) {
	e := p.lru.Remove(el).(*cachedPreview)
	delete(p.byKey, e.key)
	u := p.people[e.userID].add(-1, -e.size())
	if u.count == 0 {
		delete(p.people, e.userID)
	} else {
		p.people[e.userID] = u
	}
	p.total = p.total.add(-1, -e.size())
}
