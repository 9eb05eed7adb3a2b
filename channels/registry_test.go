package channels_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/config"
)

func noEnv(string) (string, bool) { return "", false }

func registry() *channels.Registry {
	return channels.NewRegistry(discord.Provider{}, email.Provider{}, mastodon.Provider{})
}

func TestOneSectionPerTypeNamesItsInstance(t *testing.T) {
	t.Parallel()
	_, insts, err := registry().Parse("c.yaml", []byte("channels:\n  mastodon: {}\n  discord:\n    enabled: false\n  email:\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range insts {
		got = append(got, i.Name+":"+i.Type)
	}
	if strings.Join(got, " ") != "mastodon:mastodon discord:discord email:email" {
		t.Fatalf("instances %v", got)
	}
	if en := channels.Enabled(insts); len(en) != 2 || en[1].Name != "email" {
		t.Errorf("enabled: %v", en)
	}
}

func TestSeveralInstancesOfAType(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) { return map[string]string{"LEEDS_TOKEN": "t0k"}[k], k == "LEEDS_TOKEN" }
	src := `channels:
  mastodon:
    visibility: public
  mastodon-leeds:
    type: mastodon
    instance: https://leeds.example
    token: ${LEEDS_TOKEN}
  discord-partners:
    type: discord
    webhook_url: https://discord.com/api/webhooks/123456789012345678/abc
`
	_, insts, err := registry().Parse("c.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 4 || insts[3].Name != "email" {
		t.Fatalf("want 3 instances and the implicit email one, got %+v", insts)
	}
	if insts[0].UsesOutbox() == false || insts[1].UsesOutbox() || insts[2].UsesOutbox() {
		t.Errorf("credentials are per instance: outbox %v %v %v", insts[0].UsesOutbox(), insts[1].UsesOutbox(), insts[2].UsesOutbox())
	}
	if insts[1].Type != "mastodon" || insts[2].Type != "discord" || !insts[2].CanMention() || insts[1].CanMention() {
		t.Errorf("types: %+v", insts)
	}
}

func TestInstanceProblemsNameTheInstanceAndLine(t *testing.T) {
	t.Parallel()
	src := `channels:
  mastodon-leeds:
    type: mastodon
    visibility: everyone
    colour: red
  fax:
    enabled: true
  telegram-uk:
    type: telegram
  Bad_Name:
    type: mastodon
  email:
  newsletter-2:
    type: email
  discord:
    mode: sideways
  mastodn-local:
    type: mastodn
  mastodn: {}
`
	_, _, err := registry().Parse("c.yaml", []byte(src), noEnv)
	text := err.Error()
	for _, want := range []string{
		"c.yaml:4: channels.mastodon-leeds.visibility: must be public",
		"c.yaml:5: channels.mastodon-leeds.colour: unknown key; expected one of: ",
		`c.yaml:6: channels.fax: unknown key: "fax" is not a channel type (known types: discord, email, mastodon)`,
		`c.yaml:9: channels.telegram-uk.type: unknown channel type "telegram"`,
		"c.yaml:10: channels.Bad_Name: a channel name is lower-case",
		"c.yaml:13: channels.newsletter-2: only one email channel may be enabled (email is already)",
		"c.yaml:16: channels.discord.mode: must be auto, outbox or send",
		`c.yaml:18: channels.mastodn-local.type: unknown channel type "mastodn" (did you mean "mastodon"?)`,
		`c.yaml:19: channels.mastodn: unknown key (did you mean "mastodon"?): "mastodn" is not a channel type`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

// A registry is a value: a test can register a channel type of its own.
func TestRegistryOfATestType(t *testing.T) {
	t.Parallel()
	r := channels.NewRegistry(echoProvider{})
	_, insts, err := r.Parse("c.yaml", []byte("channels:\n  echo-a: {type: echo}\n  echo: {}\n"), noEnv)
	if err != nil || len(insts) != 2 || insts[0].Name != "echo-a" || insts[1].Name != "echo" {
		t.Fatalf("%v %+v", err, insts)
	}
	_, _, err = r.Parse("c.yaml", []byte("channels:\n  mastodon: {}\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "known types: echo") {
		t.Fatalf("a registry knows only its own types: %v", err)
	}
}

type echoProvider struct{}

func (echoProvider) Type() string { return "echo" }
func (echoProvider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	var cfg struct {
		Enabled bool `yaml:"enabled"`
	}
	return echoSettings{}, s.Decode(&cfg)
}

type echoSettings struct{}

func (echoSettings) Enabled() bool        { return true }
func (echoSettings) Mode() channels.Mode  { return channels.ModeOutbox }
func (echoSettings) HasCredentials() bool { return false }
func (echoSettings) Formatter(channels.Campaign) (channels.Formatter, error) {
	return nil, nil
}
func (echoSettings) Connect(context.Context, channels.Env) (channels.Formatter, channels.Sender, error) {
	return nil, nil, nil
}
func (echoSettings) Preview(io.Writer, channels.Payload) {}

// A config without a channel's section keeps that channel with its
// defaults, as before instances existed.
func TestMissingSectionsKeepTheirDefaults(t *testing.T) {
	t.Parallel()
	_, insts, err := registry().Parse("c.yaml", []byte("campaign: {name: CAMACA}\nchannels:\n  mastodon-leeds: {type: mastodon}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range channels.Enabled(insts) {
		got = append(got, i.Name)
	}
	if strings.Join(got, " ") != "mastodon-leeds discord email" {
		t.Errorf("enabled instances %v (a type with an instance gets no implicit one)", got)
	}
}
