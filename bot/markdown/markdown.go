// Package markdown provides the Markdown post source: a folder of files,
// each a YAML front matter block between "---" lines followed by the post's
// Markdown body, as organisers write them.
//
// Parsing is pure: it never looks at the clock or the disk (except ParseFile
// and LoadDir reading the files), so a post without publish_at comes back
// with a zero PublishAt, which means "publish as soon as it is seen"; the
// caller pins the time when it first records the post.
package markdown

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/crierhq/crier/internal/explain"
	"github.com/crierhq/crier/post"
)

// MaxFileSize is the largest post file accepted. A newsletter is long; a
// post file larger than this is almost certainly something else.
const MaxFileSize = 1 << 20

// Kind is the post.Source.Kind of Markdown posts.
const Kind = "markdown"

// IDPrefix starts the post.Post.ID of every Markdown post.
const IDPrefix = "md:"

// Field names in the front matter, in the order the documentation lists them.
var fields = []string{"id", "title", "summary", "link", "tags", "image", "language", "content_warning", "publish_at", "draft", "example", "channels"}

// Channel is a configured channel instance that a post's front matter may
// address under channels: (the registry in cmd/crier lists them).
type Channel struct {
	// Name is the instance's name in config.yaml ("mastodon-leeds").
	Name string
	// Mention is true when the channel's type can ping a role (Discord).
	Mention bool
}

// Reader reads post files, checking per-channel overrides against the
// configured channels. The zero Reader (no config at hand) knows no
// channels and accepts any well-formed channel name.
type Reader struct {
	Channels []Channel
	// Location is the zone of times without an offset (campaign.timezone);
	// nil means UTC.
	Location *time.Location
}

var channelNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	languagePattern = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$`)
	roleIDPattern   = regexp.MustCompile(`^[0-9]{5,25}$`)
)

// Layouts accepted for publish_at, tried in order. Those without a zone are
// read in the campaign's time zone.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
}

// ParseFile reads and parses one post file, knowing no channels and reading
// times without an offset as UTC.
func ParseFile(path string) (post.Post, error) { return Reader{}.ParseFile(path) }

// ParseFileIn is ParseFile reading times without an offset in loc
// (campaign.timezone).
func ParseFileIn(path string, loc *time.Location) (post.Post, error) {
	return Reader{Location: loc}.ParseFile(path)
}

// LoadDir is Reader.LoadDir knowing no channels, with times without an
// offset read as UTC.
func LoadDir(dir string) (posts []post.Post, errs []error) { return Reader{}.LoadDir(dir) }

// LoadDirIn is LoadDir reading times without an offset in loc.
func LoadDirIn(dir string, loc *time.Location) (posts []post.Post, errs []error) {
	return Reader{Location: loc}.LoadDir(dir)
}

// Parse is Reader.Parse knowing no channels, with times without an offset
// read as UTC.
func Parse(name string, data []byte) (post.Post, error) { return Reader{}.Parse(name, data) }

// ParseIn is Parse reading times without an offset in loc
// (campaign.timezone); nil means UTC.
func ParseIn(name string, data []byte, loc *time.Location) (post.Post, error) {
	return Reader{Location: loc}.Parse(name, data)
}

// ParseFile reads and parses one post file.
func (r Reader) ParseFile(path string) (post.Post, error) {
	f, err := os.Open(path)
	if err != nil {
		return post.Post{}, fmt.Errorf("reading post: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return post.Post{}, fmt.Errorf("reading post %s: %w", path, err)
	}
	return r.Parse(path, data)
}

// LoadDir loads every *.md file in dir, sorted by name. Files whose names
// start with "." or "_", and README.md, are not posts and are left alone;
// sub-folders are not read. A file that cannot be read or parsed is reported
// in errs and never stops the others; a file reusing another file's id is
// an error too (the first one by name wins).
func (r Reader) LoadDir(dir string) (posts []post.Post, errs []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("reading the posts folder: %w", err)}
	}
	seen := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if !IsPostFile(name) || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, name)
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
				if err != nil {
					errs = append(errs, &FileError{File: path, Err: fmt.Errorf("reading post: %w", err)})
				}
				continue
			}
		} else if !e.Type().IsRegular() {
			continue
		}
		p, err := r.ParseFile(path)
		if err != nil {
			errs = append(errs, &FileError{File: path, Err: err})
			continue
		}
		if first, dup := seen[p.ID]; dup {
			errs = append(errs, &FileError{File: path, Err: fmt.Errorf("%s: id %q is already used by %s; give this post its own id", path, p.Source.Key, first)})
			continue
		}
		seen[p.ID] = path
		posts = append(posts, p)
	}
	return posts, errs
}

// FileError is LoadDir's report on one file; its message already names
// the file (and line).
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// IsPostFile reports whether LoadDir treats a file name as a post.
func IsPostFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || strings.EqualFold(name, "README.md") {
		return false
	}
	return strings.EqualFold(filepath.Ext(name), ".md")
}

// Parse reads one post file's bytes. name is the file's path: errors name it
// (with the line, as "name:line: what"), the id defaults to a slug of its
// base name, and a relative image file is resolved against its folder. Every
// problem in the front matter is reported at once, joined.
func (r Reader) Parse(name string, data []byte) (post.Post, error) {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	if len(data) > MaxFileSize {
		return post.Post{}, fmt.Errorf("%s: the file is %.1f MiB; a post file may be at most %d MiB", name, float64(len(data))/(1<<20), MaxFileSize>>20)
	}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return post.Post{}, fmt.Errorf("%s:1: the file is UTF-16; save it as UTF-8", name)
	}
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	if !utf8.Valid(data) {
		return post.Post{}, fmt.Errorf("%s:%d: the file is not valid UTF-8 text; save it as UTF-8", name, invalidUTF8Line(data))
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(text, "\n")

	open := 0
	for open < len(lines) && strings.TrimSpace(lines[open]) == "" {
		open++
	}
	if open == len(lines) {
		return post.Post{}, fmt.Errorf("%s: the file is empty; a post starts with a '---' line, its fields (at least title:), and a closing '---' line", name)
	}
	switch first := strings.TrimRight(lines[open], " \t"); first {
	case "---":
	case "+++":
		return post.Post{}, fmt.Errorf("%s:%d: TOML front matter (+++) is not supported; use YAML between '---' lines", name, open+1)
	default:
		return post.Post{}, fmt.Errorf("%s:%d: no front matter: a post starts with a '---' line, then its fields (at least title:), then a closing '---' line", name, open+1)
	}
	closing := -1
	for i := open + 1; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") == "---" {
			closing = i
			break
		}
	}
	if closing < 0 {
		return post.Post{}, fmt.Errorf("%s:%d: the front matter opened here is never closed with a '---' line", name, open+1)
	}
	front := strings.Join(lines[open+1:closing], "\n")
	body := strings.Join(lines[closing+1:], "\n")

	ps := &parser{name: name, offset: open + 1, known: r.Channels, loc: loc}
	p := ps.front(front)
	p.Body = strings.TrimRight(strings.TrimLeft(body, "\n"), " \t\n")

	if p.Title == "" && ps.titleLine == 0 && !ps.broken {
		ps.errorf(open+1, "title is required (add a line such as  title: Our campaign news)")
	}
	key := ps.id
	if key == "" {
		key = Slug(name)
		if key == "" {
			ps.errorf(open+1, "cannot make an id from the file name; add a line such as  id: call-to-action")
		}
	}
	if p.Image != nil && p.Image.File != "" && !filepath.IsAbs(p.Image.File) {
		p.Image.File = filepath.Join(filepath.Dir(name), filepath.FromSlash(p.Image.File))
	}
	if len(ps.errs) > 0 {
		return post.Post{}, errors.Join(ps.errs...)
	}
	p.ID = IDPrefix + key
	p.Source = post.Source{Kind: Kind, Name: filepath.Dir(name), Ref: name, Key: key}
	p.Source.Hash = p.ContentHash()
	return p, nil
}

// Slug makes a post id from a file path: the base name without its
// extension, lower-cased, with every run of characters other than ASCII
// letters and digits turned into one "-".
func Slug(path string) string {
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	s := b.String()
	if len(s) > 100 {
		s = strings.TrimRight(s[:100], "-")
	}
	return s
}

// parser collects every problem in one file's front matter.
type parser struct {
	name      string
	offset    int // file line of the opening '---'
	errs      []error
	id        string
	titleLine int
	known     []Channel
	loc       *time.Location
	// broken is set when the front matter is not YAML: its fields are
	// unknown, so a missing title is not reported on top.
	broken bool
}

func (ps *parser) errorf(line int, format string, args ...any) {
	ps.errs = append(ps.errs, fmt.Errorf("%s:%d: %s", ps.name, line, fmt.Sprintf(format, args...)))
}

// at reports a problem at a node of the front matter.
func (ps *parser) at(n *yaml.Node, format string, args ...any) {
	ps.errorf(ps.offset+max(n.Line, 1), format, args...)
}

func (ps *parser) front(src string) post.Post {
	var p post.Post
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		line, msg, _ := explain.YAML(err, src)
		ps.errorf(ps.offset+line, "the front matter cannot be read: %s", msg)
		ps.broken = true
		return p
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return p // empty: the missing title is reported by the caller
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return p
	}
	if root.Kind != yaml.MappingNode {
		ps.at(root, "the front matter must be fields (key: value lines), found %s", describe(root))
		return p
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !ps.key(k, fields, seen, "") {
			continue
		}
		switch k.Value {
		case "id":
			if s, ok := ps.text(k.Value, v); ok && s != "" {
				if !idPattern.MatchString(s) {
					ps.at(v, "id %q may hold only letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit)", s)
				} else {
					ps.id = s
				}
			}
		case "title":
			ps.titleLine = k.Line
			if s, ok := ps.text(k.Value, v); ok {
				p.Title = strings.TrimSpace(s)
				if p.Title == "" {
					ps.at(v, "title is empty; every post needs a title")
				}
			}
		case "summary":
			p.Summary, _ = ps.text(k.Value, v)
			p.Summary = strings.TrimSpace(p.Summary)
		case "link":
			if s, ok := ps.text(k.Value, v); ok && s != "" {
				if ps.webURL(k.Value, v, s) {
					p.Link = s
				}
			}
		case "tags":
			p.Tags = ps.tags(v)
		case "image":
			p.Image = ps.image(v)
		case "language":
			if s, ok := ps.text(k.Value, v); ok && s != "" {
				if !languagePattern.MatchString(s) {
					ps.at(v, "language %q is not a language code such as en, fr or pt-BR", s)
				} else {
					p.Language = s
				}
			}
		case "content_warning":
			p.ContentWarning, _ = ps.text(k.Value, v)
			p.ContentWarning = strings.TrimSpace(p.ContentWarning)
		case "publish_at":
			if s, ok := ps.text(k.Value, v); ok && s != "" {
				p.PublishAt = ps.time(v, s)
			}
		case "draft":
			p.Draft, _ = ps.bool(k.Value, v)
		case "example":
			p.Example, _ = ps.bool(k.Value, v)
		case "channels":
			p.Channels = ps.channels(v)
		}
	}
	return p
}

// key checks one mapping key: known, a plain value, and not repeated.
func (ps *parser) key(k *yaml.Node, known []string, seen map[string]bool, where string) bool {
	if k.Kind != yaml.ScalarNode {
		ps.at(k, "%sexpected a field name, found %s", where, describe(k))
		return false
	}
	valid := false
	for _, f := range known {
		if f == k.Value {
			valid = true
		}
	}
	if !valid {
		hint := ""
		if s := explain.Closest(k.Value, known); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		ps.at(k, "%sunknown field %q%s; known fields: %s", where, k.Value, hint, strings.Join(known, ", "))
		return false
	}
	if seen[k.Value] {
		ps.at(k, "%sfield %q is given twice", where, k.Value)
		return false
	}
	seen[k.Value] = true
	return true
}

// text reads a scalar as text; null is "".
func (ps *parser) text(field string, v *yaml.Node) (string, bool) {
	v = deref(v)
	if v.Kind != yaml.ScalarNode {
		ps.at(v, "%s: expected text, found %s", field, describe(v))
		return "", false
	}
	if v.Tag == "!!null" {
		return "", true
	}
	return v.Value, true
}

func (ps *parser) bool(field string, v *yaml.Node) (bool, bool) {
	v = deref(v)
	var b bool
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Decode(&b) != nil {
		what := describe(v)
		if v.Kind == yaml.ScalarNode {
			what = strconv.Quote(v.Value)
		}
		ps.at(v, "%s: expected true or false, found %s", field, what)
		return false, false
	}
	return b, true
}

func (ps *parser) webURL(field string, v *yaml.Node, s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.at(v, "%s: %q is not a full web address (it must start with https:// or http://)", field, s)
		return false
	}
	return true
}

func (ps *parser) time(v *yaml.Node, s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		t, err := time.ParseInLocation(layout, s, ps.loc)
		if err != nil {
			continue
		}
		wall, _ := time.Parse(layout, s) // the same wall clock, in UTC
		if !strings.Contains(layout, "Z07:00") && !sameWallClock(t.In(ps.loc), wall) {
			// A wall-clock time the clocks skip when summer time starts.
			ps.at(v, "publish_at: %s does not exist in %s (the clocks go forward then); write a time an hour later, or give an offset", s, ps.loc)
			return time.Time{}
		}
		return t.UTC()
	}
	ps.at(v, "publish_at: cannot read %q as a time; write 2031-05-01 09:00 (campaign.timezone, %s), 2031-05-01 (midnight there) or 2031-05-01T09:00:00+01:00 (with its own offset)", s, ps.loc)
	return time.Time{}
}

// sameWallClock reports whether a and b show the same date and time of day.
func sameWallClock(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}

func (ps *parser) tags(v *yaml.Node) []string {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		ps.at(v, "tags: expected a list such as  tags: [child trafficking, human rights], found %s", describe(v))
		return nil
	}
	var tags []string
	seen := map[string]bool{}
	for _, item := range v.Content {
		s, ok := ps.text("tags", item)
		if !ok {
			continue
		}
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "#"))
		if s == "" || seen[strings.ToLower(s)] {
			continue
		}
		seen[strings.ToLower(s)] = true
		tags = append(tags, s)
	}
	return tags
}

func (ps *parser) image(v *yaml.Node) *post.Image {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		ps.at(v, "image: expected fields url (or file) and alt, found %s", describe(v))
		return nil
	}
	img := &post.Image{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !ps.key(k, []string{"url", "file", "alt"}, seen, "image: ") {
			continue
		}
		s, ok := ps.text("image."+k.Value, val)
		if !ok {
			continue
		}
		s = strings.TrimSpace(s)
		switch k.Value {
		case "url":
			if s != "" && ps.webURL("image.url", val, s) {
				img.URL = s
			}
		case "file":
			img.File = s
		case "alt":
			img.Alt = s
		}
	}
	switch {
	case seen["url"] && seen["file"]:
		ps.at(v, "image: give either url or file, not both")
	case img.URL == "" && img.File == "" && !(seen["url"] || seen["file"]):
		ps.at(v, "image: needs url (a web address) or file (a path next to the post)")
	}
	if img.URL == "" && img.File == "" {
		return nil
	}
	return img
}

func (ps *parser) channels(v *yaml.Node) map[string]post.Override {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		ps.at(v, "channels: expected one entry per channel (%s), found %s", ps.channelList(), describe(v))
		return nil
	}
	out := map[string]post.Override{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		if !ps.channelKey(k, seen) {
			continue
		}
		ch := k.Value
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			continue
		}
		if val.Kind != yaml.MappingNode {
			ps.at(val, "channels.%s: expected skip, text or mention, found %s", ch, describe(val))
			continue
		}
		var o post.Override
		oseen := map[string]bool{}
		for j := 0; j+1 < len(val.Content); j += 2 {
			ok, ov := val.Content[j], val.Content[j+1]
			if !ps.key(ok, []string{"skip", "text", "mention"}, oseen, "channels."+ch+": ") {
				continue
			}
			field := "channels." + ch + "." + ok.Value
			switch ok.Value {
			case "skip":
				o.Skip, _ = ps.bool(field, ov)
			case "text":
				o.Text, _ = ps.text(field, ov)
				o.Text = strings.TrimSpace(o.Text)
			case "mention":
				s, good := ps.text(field, ov)
				s = strings.TrimPrefix(strings.TrimSpace(s), "@")
				switch {
				case !good || s == "":
				case !ps.canMention(ch):
					ps.at(ov, "%s: %s cannot mention a role; only %s can", field, ch, ps.mentioners())
				case s == "everyone" || s == "here" || roleIDPattern.MatchString(s):
					o.Mention = s
				default:
					ps.at(ov, "%s: expected everyone, here or a Discord role id (digits), found %q", field, s)
				}
			}
		}
		out[ch] = o
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// channelKey checks a key under channels:: a configured channel's name, or,
// when the reader knows no channels, any well-formed name.
func (ps *parser) channelKey(k *yaml.Node, seen map[string]bool) bool {
	if len(ps.known) > 0 {
		return ps.key(k, ps.channelNames(), seen, "channels: ")
	}
	if k.Kind == yaml.ScalarNode && !channelNamePattern.MatchString(k.Value) {
		ps.at(k, "channels: %q is not a channel name (lower-case letters, digits, - and _, such as mastodon-leeds)", k.Value)
		return false
	}
	return ps.key(k, []string{k.Value}, seen, "channels: ")
}

func (ps *parser) channelNames() []string {
	names := make([]string, len(ps.known))
	for i, c := range ps.known {
		names[i] = c.Name
	}
	return names
}

func (ps *parser) channelList() string {
	if len(ps.known) == 0 {
		return "the names under channels: in config.yaml"
	}
	return strings.Join(ps.channelNames(), ", ")
}

// canMention reports whether a channel may ping a role; with no channels
// known, any may (the config decides later).
func (ps *parser) canMention(name string) bool {
	if len(ps.known) == 0 {
		return true
	}
	for _, c := range ps.known {
		if c.Name == name {
			return c.Mention
		}
	}
	return false
}

// mentioners lists the channels that can ping a role.
func (ps *parser) mentioners() string {
	var names []string
	for _, c := range ps.known {
		if c.Mention {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return "channels that ping roles (Discord)"
	}
	return strings.Join(names, ", ")
}

// deref follows a YAML alias to what it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "fields (key: value)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size == 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}
