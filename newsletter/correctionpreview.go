package newsletter

import (
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// FormatCorrection renders the correction mail of post p, corrected, as
// its recipients would get it (Sender.Correct sends the same), so that an
// organiser reads it before choosing to send it.
func (f *Formatter) FormatCorrection(p post.Post, revision int, note string, at time.Time) (channels.Payload, error) {
	return f.formatSource(CorrectionSendID(p.ID, revision), sendSource{ID: p.ID, Posts: []post.Post{p},
		Correction: &correctionSource{Of: "post:" + p.ID, Note: note, At: at}})
}
