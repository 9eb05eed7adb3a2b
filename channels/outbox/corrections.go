package outbox

// Corrections and withdrawals in outbox mode (issue 23): written next to the
// post's files as the request the channel would make, for a person to read
// (<base>.correction-r<N>.json with the corrected payload, and
// <base>.withdrawal.json), since nothing was sent that a network could
// change.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crierhq/crier/channels"
)

// Request is one correction or withdrawal as the outbox writes it.
type Request struct {
	// Operation is "correct" or "withdraw".
	Operation string `json:"operation"`
	PostID    string `json:"post_id"`
	Channel   string `json:"channel"`
	Revision  int    `json:"revision,omitempty"`
	Style     string `json:"style,omitempty"`
	Note      string `json:"note,omitempty"`
	Mail      bool   `json:"mail,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Parts are the remote messages the request acts on: none when the
	// post itself only went to the outbox.
	Parts []channels.Part `json:"parts"`
	// Payload is the corrected post exactly as the channel would send it.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Correct writes the correction request and the corrected payload's own
// renderings (<base>.correction-r<N>.eml, ...). A retry overwrites them.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	body, err := channels.MarshalIndent(p)
	if err != nil {
		return nil, channels.Permanent(err)
	}
	name := fmt.Sprintf("%s.correction-r%d", FileBase(c.PostID), c.Revision)
	req := Request{Operation: "correct", PostID: c.PostID, Channel: c.Channel, Revision: c.Revision, Style: string(c.Style),
		Note: c.Note, Mail: c.Mail, Parts: nonNil(c.Parts), Payload: body}
	path, err := s.writeRequest(ctx, c.Channel, name, req, p.Files)
	if err != nil {
		return nil, err
	}
	return []channels.PartResult{{Index: 0, Outcome: channels.OutcomeEdited, RemoteID: "outbox:" + name, RemoteURL: "file://" + path,
		Note: "written to the outbox, not sent: this channel has no account connected"}}, nil
}

// Withdraw writes the withdrawal request.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	name := FileBase(w.PostID) + ".withdrawal"
	req := Request{Operation: "withdraw", PostID: w.PostID, Channel: w.Channel, Reason: w.Reason, Parts: nonNil(w.Parts)}
	path, err := s.writeRequest(ctx, w.Channel, name, req, nil)
	if err != nil {
		return nil, err
	}
	return []channels.PartResult{{Index: 0, Outcome: channels.OutcomeDeleted, RemoteID: "outbox:" + name, RemoteURL: "file://" + path,
		Note: "written to the outbox, not sent: this channel has no account connected"}}, nil
}

// PlanCorrection says that the outbox writes the request down.
func (s *Sender) PlanCorrection(context.Context, string, []channels.Part) (channels.CorrectionPlan, error) {
	return channels.CorrectionPlan{How: "no account is connected: the correction is written to the outbox as the request the channel would make, nothing is sent"}, nil
}

func (s *Sender) writeRequest(ctx context.Context, channel, name string, req Request, files []channels.File) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", channels.Temporary(err)
	}
	dir := filepath.Join(s.Dir, channel)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", channels.Temporary(fmt.Errorf("creating outbox folder %s: %w", dir, err))
	}
	js, err := channels.MarshalIndent(req)
	if err != nil {
		return "", channels.Permanent(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := writeAtomic(path, js); err != nil {
		return "", channels.Temporary(err)
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, name+filepath.Ext(f.Name)), f.Data); err != nil {
			return "", channels.Temporary(err)
		}
	}
	abs, _ := filepath.Abs(path)
	return abs, nil
}

func nonNil(parts []channels.Part) []channels.Part {
	if parts == nil {
		return []channels.Part{}
	}
	return parts
}
