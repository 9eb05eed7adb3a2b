package newsletter

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// Topic is one of the organiser's lists that supporters can choose on the
// preferences page: a post whose tags include one of Tags is on the topic.
type Topic struct {
	// ID is what is stored with the subscriber (their lists) and in CSV
	// files; empty means Name lower-cased with spaces as '-'.
	ID string `yaml:"id"`
	// Name is shown to supporters ("Events").
	Name string `yaml:"name"`
	// Names are the name in other languages, by language code
	// ({fr: Événements}).
	Names map[string]string `yaml:"names"`
	// Tags are the post tags that feed the topic (case does not matter).
	Tags []string `yaml:"tags"`
}

// Key is the topic's stored identifier.
func (t Topic) Key() string {
	if t.ID != "" {
		return strings.ToLower(strings.TrimSpace(t.ID))
	}
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(t.Name)), " ", "-")
}

// Label is the topic's name in lang, falling back to Name.
func (t Topic) Label(lang string) string {
	if n := t.Names[lang]; n != "" {
		return n
	}
	return t.Name
}

func validTopicKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// validateTopics reports the problems of the topics list.
func validateTopics(topics []Topic) []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	seen := map[string]bool{}
	for i, t := range topics {
		field := fmt.Sprintf("topics[%d]", i)
		switch k := t.Key(); {
		case strings.TrimSpace(t.Name) == "":
			probs = append(probs, channels.ConfigProblem{Field: field + ".name", Message: "a topic needs the name supporters see, e.g. Events"})
		case !validTopicKey(k):
			probs = append(probs, channels.ConfigProblem{Field: field + ".id", Message: fmt.Sprintf("topic %q needs an id of letters a-z, digits, '-', '_' or '.' (at most 64), e.g. id: events", t.Name)})
		case seen[k]:
			probs = append(probs, channels.ConfigProblem{Field: field + ".id", Message: fmt.Sprintf("topic id %q is used twice", k)})
		default:
			seen[k] = true
		}
		if len(t.Tags) == 0 {
			probs = append(probs, channels.ConfigProblem{Field: field + ".tags", Message: fmt.Sprintf("topic %q has no tags: list the post tags that feed it, e.g. [vigil, event]", t.Name)})
		}
	}
	return probs
}

// TopicsOf returns the keys of the topics the posts are on, sorted, and
// whether one of them is on no topic (general news, which goes to every
// supporter whatever their topics).
func TopicsOf(topics []Topic, posts []post.Post) (keys []string, general bool) {
	for _, p := range posts {
		on := false
		for _, t := range topics {
			if slices.ContainsFunc(t.Tags, func(tag string) bool {
				return slices.ContainsFunc(p.Tags, func(pt string) bool { return strings.EqualFold(strings.TrimSpace(pt), strings.TrimSpace(tag)) })
			}) {
				on = true
				if !slices.Contains(keys, t.Key()) {
					keys = append(keys, t.Key())
				}
			}
		}
		if !on {
			general = true
		}
	}
	slices.Sort(keys)
	return keys, general
}
