package bluesky

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"
)

const tidAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// tidWindow is where derived record keys put their timestamps: two years in
// the past, so that no key claims a future time, spread wide enough (about
// 2^46 microseconds, plus 10 bits of clock id) that two parts never share a
// key.
var (
	tidWindowStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	tidWindowLen   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() - tidWindowStart
)

// RecordKey derives the record key of one part of a delivery: a valid TID
// (app.bsky.feed.post records are keyed by TID) computed from the post, the
// channel instance and the part index only, so every attempt writes the same
// key and the server refuses a second record under it.
func RecordKey(postID, channel string, part int) string {
	h := sha256.Sum256([]byte("crier\x00" + postID + "\x00" + channel + "\x00" + strconv.Itoa(part)))
	ts := tidWindowStart + int64(binary.BigEndian.Uint64(h[:8])%uint64(tidWindowLen))
	clock := uint64(binary.BigEndian.Uint16(h[8:10]) & 0x3ff)
	return encodeTID(uint64(ts)<<10 | clock)
}

// encodeTID writes v (top bit clear) as 13 base32-sortable characters.
func encodeTID(v uint64) string {
	var b [13]byte
	for i := 12; i >= 0; i-- {
		b[i] = tidAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// validTID reports whether s has a TID's syntax.
func validTID(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		idx := -1
		for j := 0; j < len(tidAlphabet); j++ {
			if tidAlphabet[j] == c {
				idx = j
			}
		}
		if idx < 0 || i == 0 && idx > 15 {
			return false
		}
	}
	return true
}
