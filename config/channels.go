package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ChannelSection is one channel instance as written under channels: — its
// name (the key), its type, and its settings as a YAML node with positions,
// for the channel type's provider to decode with Decode. The config package
// knows no channel type: the registry built in cmd/crier hands each section
// to its type's provider.
type ChannelSection struct {
	// Name is the instance's name: the key under channels: ("mastodon",
	// "mastodon-leeds"). Deliveries, queues, the outbox folder and front
	// matter overrides use it.
	Name string
	// Type is the channel type (type: mastodon); without a type: key it is
	// the name itself, which is how a config with one account per network
	// is written.
	Type string
	// Line is where the section starts (its name).
	Line int
	// TypeLine is where type: is, or Line when the type is the name.
	TypeLine int
	// Node is the section's mapping, with ${ENV} expanded; nil for an empty
	// section.
	Node *yaml.Node

	cfg   *Config
	lines map[string]int // field path within the section -> line
}

// namePattern is what an instance name may be: it is used in queue names,
// outbox folders, metric labels and front matter keys.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// Field is the section's key path in the file, e.g. "channels.mastodon-leeds.token".
func (s ChannelSection) Field(field string) string {
	if field == "" {
		return "channels." + s.Name
	}
	return "channels." + s.Name + "." + field
}

// Problem is a problem at a field of the section (a key path such as
// "smtp.tls" or "hashtags[2]"), at the line of that field or of its nearest
// parent.
func (s ChannelSection) Problem(field, format string, args ...any) Problem {
	line := s.Line
	for f := field; f != ""; {
		if l, ok := s.lines[f]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return Problem{File: s.file(), Line: line, Field: s.Field(field), Message: fmt.Sprintf(format, args...)}
}

// Config is the config the section belongs to, for checks that involve
// the rest of it (the newsletter and schedules.digest); nil for a section
// made outside Parse.
func (s ChannelSection) Config() *Config { return s.cfg }

// Section returns an empty section named name of type name, for a channel
// type the file has no section for (its provider's defaults apply).
func (c *Config) Section(name string) ChannelSection {
	return ChannelSection{Name: name, Type: name, cfg: c, lines: map[string]int{}}
}

func (s ChannelSection) file() string {
	if s.cfg == nil {
		return ""
	}
	return s.cfg.path
}

// Resolve makes a path from the section relative to the config file's
// folder, as every other path in the config is.
func (s ChannelSection) Resolve(p string) string {
	if s.cfg == nil {
		return p
	}
	return s.cfg.Resolve(p)
}

// Decode decodes the section into out, a pointer to the provider's config
// struct (yaml tags; pre-filled with its defaults), and reports unknown keys
// (naming the expected ones) and values of the wrong type, with file and
// line. The type: key belongs to the registry and is skipped.
func (s ChannelSection) Decode(out any) Problems {
	if s.Node == nil {
		return nil
	}
	v := &validator{file: s.file(), lines: map[string]int{}}
	if s.cfg != nil {
		v.fromEnv = s.cfg.fromEnv
	}
	node := *s.Node
	node.Content = append([]*yaml.Node(nil), s.Node.Content...)
	takeKey(&node, "type")
	v.walk(&node, reflect.TypeOf(out), s.Field(""))
	v.decode(&node, out)
	return v.problems
}

// channelSections splits channels: into its instances and records where
// their fields are.
func (v *validator) channelSections(n *yaml.Node, cfg *Config) []ChannelSection {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	v.lines["channels"] = n.Line
	if n.Kind != yaml.MappingNode {
		v.add(n.Line, "channels", "expected one section per channel (mastodon:, discord:, ...), found %s", kindName(n))
		return nil
	}
	var out []ChannelSection
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		field := "channels." + key.Value
		switch {
		case seen[key.Value]:
			v.add(key.Line, field, "channel %q is configured twice", key.Value)
			continue
		case !namePattern.MatchString(key.Value):
			v.add(key.Line, field, "a channel name is lower-case letters, digits, - and _, starting with a letter (at most 40), such as mastodon-leeds")
			continue
		}
		seen[key.Value] = true
		sec := ChannelSection{Name: key.Value, Type: key.Value, Line: key.Line, TypeLine: key.Line, cfg: cfg, lines: map[string]int{}}
		switch {
		case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
		case val.Kind != yaml.MappingNode:
			v.add(val.Line, field, "expected a mapping of keys, found %s", kindName(val))
			continue
		default:
			sec.Node = val
			recordLines(val, "", sec.lines)
			if t := mapValue(val, "type"); t != nil {
				sec.TypeLine = t.Line
				if t.Kind != yaml.ScalarNode || t.Value == "" {
					v.add(t.Line, field+".type", "must name a channel type, such as mastodon")
					continue
				}
				sec.Type = t.Value
			}
		}
		out = append(out, sec)
	}
	return out
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// recordLines notes the line of every key path below n.
func recordLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := joinPath(path, n.Content[i].Value)
			lines[child] = n.Content[i].Line
			recordLines(n.Content[i+1], child, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			lines[child] = c.Line
			recordLines(c, child, lines)
		}
	}
}

// With returns a copy of the section with the given values set, each under
// its key path ("token", "smtp.host"), replacing what the file says there:
// a channel connected from the console is its section with the connection's
// values set, read by its type's own Configure. The section itself is left
// unchanged. A value that is a whole number is given as a number (smtp.port),
// every other as a string, so that a password of digits stays a string.
func (s ChannelSection) With(values map[string]string) ChannelSection {
	out := s
	out.lines = map[string]int{}
	for k, l := range s.lines {
		out.lines[k] = l
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if s.Node != nil {
		root = deepCopy(s.Node)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, path := range keys {
		setPath(root, strings.Split(path, "."), values[path])
	}
	out.Node = root
	return out
}

// setPath sets the scalar at path below the mapping n, making the mappings
// on the way.
func setPath(n *yaml.Node, path []string, value string) {
	tag := "!!str"
	if _, err := strconv.Atoi(value); err == nil {
		tag = "!!int"
	}
	for i, key := range path {
		child := mapValue(n, key)
		if child == nil {
			child = &yaml.Node{}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, child)
		}
		if i == len(path)-1 {
			*child = yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
			return
		}
		if child.Kind != yaml.MappingNode {
			*child = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		n = child
	}
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = deepCopy(k)
	}
	return &c
}
