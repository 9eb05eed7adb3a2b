package email

import (
	"context"
	"database/sql"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/subscribers"
)

// What the newsletter implements of the channel contract.
var (
	_ channels.Provider                                    = Provider{}
	_ channels.Single                                      = Provider{}
	_ channels.Documented                                  = Provider{}
	_ channels.OutboxReasoner                              = Provider{}
	_ channels.Connector                                   = Provider{}
	_ channels.SendReporter                                = Provider{}
	_ channels.Settings                                    = (*Settings)(nil)
	_ channels.DigestOnly                                  = (*Settings)(nil)
	_ channels.CardPreviewer                               = (*Settings)(nil)
	_ channels.NewsletterSettings[*subscribers.Newsletter] = (*Settings)(nil)
	_ channels.TestSender                                  = (*Settings)(nil)
	_ channels.AccountSender                               = (*Settings)(nil)
	_ channels.ConfirmationEraser                          = (*Settings)(nil)
	_ channels.Formatter                                   = (*newsletter.Formatter)(nil)
	_ channels.DigestFormatter                             = (*newsletter.Formatter)(nil)
	_ channels.Sender                                      = (*newsletter.Sender)(nil)
	_ channels.Digester                                    = (*newsletter.Sender)(nil)
	_ channels.Body                                        = (*Message)(nil)
)

// SendReports lists the newsletter sends for crier status (all, ref "")
// and the console's post page (ref's), newest first, each with its
// Progress as detail.
func (Provider) SendReports(ctx context.Context, db *sql.DB, ref string) ([]channels.SendReport, error) {
	read := SendProgress
	if ref != "" {
		read = func(ctx context.Context, db *sql.DB) ([]Progress, error) {
			return newsletter.SendProgressOf(ctx, db, ref)
		}
	}
	ps, err := read(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make([]channels.SendReport, 0, len(ps))
	for _, p := range ps {
		out = append(out, channels.SendReport{ID: p.SendID, Ref: p.Ref, Sent: p.Sent, Failed: p.Failed, Total: p.Total, Warning: p.Warning, Detail: p})
	}
	return out, nil
}

// DocsPage is docs/newsletter.md.
func (Provider) DocsPage() string { return "newsletter.md" }

// OutboxReason names what the newsletter sends through.
func (Provider) OutboxReason() string { return "no mail server configured" }
