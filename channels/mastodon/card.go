package mastodon

import "github.com/crierhq/crier/channels"

// PreviewCard shows each status of the thread with its content warning and
// picture, counted as Mastodon counts against the instance's budget
// (max_characters, else 500).
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	sts, ok := p.Body.(Statuses)
	if !ok {
		return channels.FieldsCard(p)
	}
	count := defaultLimits().Counter().Count
	var card channels.PreviewCard
	for _, st := range sts {
		m := channels.PreviewMessage{Style: channels.StylePost, ContentWarning: st.SpoilerText, Text: channels.PlainText(st.Status),
			Count: count(st.SpoilerText, st.Status), Limit: s.CharacterLimit()}
		if st.Media != nil {
			m.Images = []channels.PreviewImage{{URL: st.Media.URL, File: st.Media.File, Alt: st.Media.Description}}
		}
		card.Messages = append(card.Messages, m)
	}
	return card
}
