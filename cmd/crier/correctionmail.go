package main

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/web/console"
)

var _ console.CorrectionMailPreviewer = (*consoleCorrections)(nil)

// CorrectionMail draws the newsletter's correction mail for the console's
// review, with the newsletter's own formatter (what Correct sends).
func (c *consoleCorrections) CorrectionMail(ctx context.Context, r console.CorrectionRequest) (channels.PreviewCard, error) {
	for _, inst := range channels.Enabled(c.app.Instances) {
		if !slices.Contains(r.Channels, inst.Name) {
			continue
		}
		f, err := inst.Settings.Formatter(c.app.campaign())
		if err != nil {
			return channels.PreviewCard{}, err
		}
		nf, ok := f.(*newsletter.Formatter)
		if !ok {
			continue
		}
		pl, err := nf.FormatCorrection(r.Corrected, 0, r.Note, time.Now())
		if err != nil {
			return channels.PreviewCard{}, err
		}
		return inst.PreviewCard(pl), nil
	}
	return channels.PreviewCard{}, errors.New("none of the channels to correct is a newsletter")
}
