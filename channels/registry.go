package channels

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/explain"
)

// Registry is the set of channel types this binary knows. It is a value
// built in cmd/crier from the imported providers, not a package-level map
// filled by init(): tests build registries of their own (a subset, a fake
// type) side by side, and what a binary supports is read in one place.
type Registry struct {
	providers map[string]Provider
}

// NewRegistry returns a registry of the given providers. Two providers of
// the same type are a programming error.
func NewRegistry(ps ...Provider) *Registry {
	r := &Registry{providers: map[string]Provider{}}
	for _, p := range ps {
		if _, dup := r.providers[p.Type()]; dup {
			panic("channels: two providers of type " + p.Type())
		}
		r.providers[p.Type()] = p
	}
	return r
}

// Types lists the known channel types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.providers))
	for t := range r.providers {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Provider returns the provider of a type.
func (r *Registry) Provider(typ string) (Provider, bool) {
	p, ok := r.providers[typ]
	return p, ok
}

// Instance is one configured channel: a named instance of a type. Several
// instances of one type (two Mastodon accounts) each have their own
// settings, credentials, queue, deliveries and outbox folder.
type Instance struct {
	Name     string
	Type     string
	Provider Provider
	Settings Settings
	// Section is the config section the settings were read from (a
	// connection made from the console is this section with its values
	// set: WithConnection).
	Section config.ChannelSection
}

// UsesOutbox reports whether the instance renders to the outbox instead of
// sending.
func (i Instance) UsesOutbox() bool {
	return i.Settings.Mode().UsesOutbox(i.Settings.HasCredentials())
}

// DigestOnly reports whether posts reach the instance only through its
// digest, and the note that tells an organiser so.
func (i Instance) DigestOnly() (bool, string) {
	if d, ok := i.Settings.(DigestOnly); ok && d.DigestOnly() {
		return true, d.DigestNote()
	}
	return false, ""
}

// CanMention reports whether the instance's type can ping a role.
func (i Instance) CanMention() bool {
	m, ok := i.Provider.(Mentioner)
	return ok && m.CanMention()
}

// DocsPage is the page of docs/ that explains the instance's settings, or
// "" when its type names none.
func (i Instance) DocsPage() string {
	if d, ok := i.Provider.(Documented); ok {
		return d.DocsPage()
	}
	return ""
}

// Configure hands every channel section to its type's provider and returns
// the configured instances, enabled or not, in file order, with every
// problem found. A type no section names gets one instance named after it
// with its provider's defaults, as a missing section always meant (enabled
// in outbox mode for mastodon, discord and email).
func (r *Registry) Configure(cfg *config.Config) ([]Instance, config.Problems) {
	var out []Instance
	var probs config.Problems
	single := map[string]string{}
	secs := append(slices.Clone(cfg.Channels), r.implicit(cfg)...)
	for _, s := range secs {
		p, ok := r.providers[s.Type]
		if !ok {
			probs = append(probs, r.unknownType(s))
			continue
		}
		set, ps := p.Configure(s)
		probs = append(probs, ps...)
		if set == nil {
			continue
		}
		if !set.Mode().Valid() {
			probs = append(probs, s.Problem("mode", "must be auto, outbox or send"))
		}
		if one, ok := p.(Single); ok && set.Enabled() {
			if first, dup := single[s.Type]; dup {
				probs = append(probs, s.Problem("", "only one %s channel may be enabled (%s is already): %s", s.Type, first, one.Single()))
				continue
			}
			single[s.Type] = s.Name
		}
		out = append(out, Instance{Name: s.Name, Type: s.Type, Provider: p, Settings: set, Section: s})
	}
	return out, probs
}

// implicit returns an empty section for every type no section names.
func (r *Registry) implicit(cfg *config.Config) []config.ChannelSection {
	var out []config.ChannelSection
	for _, typ := range r.Types() {
		if !slices.ContainsFunc(cfg.Channels, func(s config.ChannelSection) bool { return s.Type == typ || s.Name == typ }) {
			out = append(out, cfg.Section(typ))
		}
	}
	return out
}

func (r *Registry) unknownType(s config.ChannelSection) config.Problem {
	types := strings.Join(r.Types(), ", ")
	if s.TypeLine != s.Line {
		hint := ""
		if c := explain.Closest(s.Type, r.Types()); c != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", c)
		}
		p := s.Problem("type", "unknown channel type %q%s (known types: %s)", s.Type, hint, types)
		p.Line = s.TypeLine
		return p
	}
	hint := ""
	if c := explain.Closest(s.Name, r.Types()); c != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", c)
	}
	return s.Problem("", "unknown key%s: %q is not a channel type (known types: %s); to name a channel yourself, give its type, e.g. %s:  type: %s", hint, s.Name, types, s.Name, r.Types()[0])
}

// Load reads config.yaml and configures its channels: every problem of the
// config and of every channel section is in the returned config.Problems,
// sorted by line.
func (r *Registry) Load(path string) (*config.Config, []Instance, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	return r.Parse(path, data, os.LookupEnv)
}

// Parse is Load on bytes, with lookup standing in for the environment.
func (r *Registry) Parse(path string, data []byte, lookup func(string) (string, bool)) (*config.Config, []Instance, error) {
	cfg, probs := config.ParseAll(path, data, lookup)
	var insts []Instance
	if cfg != nil {
		var cprobs config.Problems
		insts, cprobs = r.Configure(cfg)
		probs = append(probs, cprobs...)
	}
	if len(probs) > 0 {
		probs.Sort()
		return nil, nil, probs
	}
	return cfg, insts, nil
}

// Enabled returns the enabled instances, in file order.
func Enabled(insts []Instance) []Instance {
	var out []Instance
	for _, i := range insts {
		if i.Settings.Enabled() {
			out = append(out, i)
		}
	}
	return out
}

// WithConnection returns the instance as it is with a connection made from
// the console: its section with the connection's values set under their
// ConnectField names, read again by the type's own Configure. It is how
// every type's stored connection becomes its credentials, with nothing to
// write per type. A value the type refuses is an error naming the field.
func (i Instance) WithConnection(values map[string]string) (Instance, error) {
	set, probs := i.Provider.Configure(i.Section.With(values))
	if len(probs) > 0 {
		return i, fmt.Errorf("the connection stored for %s does not fit its settings: %s: %s", i.Name, probs[0].Field, probs[0].Message)
	}
	if set == nil {
		return i, fmt.Errorf("the connection stored for %s does not fit its settings", i.Name)
	}
	i.Settings = set
	return i, nil
}
