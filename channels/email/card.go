package email

import "github.com/crierhq/crier/channels"

// PreviewCard shows the newsletter by its subject and preheader, its HTML
// in frames; it carries the post's whole text.
func (s *Settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	m, ok := p.Body.(*Message)
	if !ok {
		return channels.FieldsCard(p)
	}
	return channels.PreviewCard{Mail: &channels.PreviewMail{Subject: m.Subject, Preheader: m.Preheader, HTML: m.HTML}, WholePost: true}
}
