package config_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/config"
)

// Problems and Parse: the channel sections are read by the registry, so
// these tests load the config the way cmd/crier does.
type Problems = config.Problems

var registry = channels.NewRegistry(discord.Provider{}, email.Provider{}, mastodon.Provider{})

func Parse(path string, data []byte, lookup func(string) (string, bool)) (*config.Config, error) {
	cfg, _, err := registry.Parse(path, data, lookup)
	return cfg, err
}

func noEnv(string) (string, bool) { return "", false }

func TestTimezone(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("campaign:\n  name: CAMACA\n  timezone: Europe/London\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	summer := time.Date(2031, 7, 1, 8, 0, 0, 0, time.UTC).In(cfg.Location())
	winter := time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC).In(cfg.Location())
	if summer.Format("15:04 MST") != "09:00 BST" || winter.Format("15:04 MST") != "09:00 GMT" {
		t.Errorf("London: summer %s, winter %s", summer.Format("15:04 MST"), winter.Format("15:04 MST"))
	}
	cfg, err = Parse("c.yaml", []byte("campaign:\n  name: CAMACA\n"), noEnv)
	if err != nil || cfg.Location() != time.UTC {
		t.Fatalf("no timezone means UTC: %v %v", cfg.Location(), err)
	}
	for _, bad := range []string{"Europe/Lodnon", "Local", "BST", "/etc/localtime"} {
		_, err = Parse("c.yaml", []byte("campaign:\n  name: CAMACA\n  timezone: "+bad+"\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), "c.yaml:3: campaign.timezone: unknown time zone") {
			t.Errorf("timezone %q: want a line-numbered problem, got %v", bad, err)
		}
	}
}

func TestNewsletterIsAnExplicitChoice(t *testing.T) {
	for _, tc := range []struct{ src, problem string }{
		{"schedules:\n  digest: \"0 9 * * MON\"\n", "c.yaml:2: schedules.digest: a digest schedule is set but channels.email.newsletter is not"},
		{"schedules:\n  digest: \"0 9 * * MON\"\nchannels:\n  email:\n    newsletter: each_post\n", "c.yaml:5: channels.email.newsletter: is each_post but schedules.digest is set"},
		{"channels:\n  email:\n    newsletter: digest\n", "c.yaml:3: channels.email.newsletter: is digest but schedules.digest is empty"},
		{"channels:\n  email:\n    newsletter: weekly\n", "c.yaml:3: channels.email.newsletter: must be each_post"},
		{"schedules:\n  digest: \"0 9 * * MON\"\nchannels:\n  email:\n    newsletter: both\n", ""},
		{"schedules:\n  digest: \"0 9 * * MON\"\nchannels:\n  email:\n    newsletter: digest\n", ""},
		{"channels:\n  email:\n    newsletter: each_post\n", ""},
		{"", ""},
		{"schedules:\n  digest: \"0 9 * * MON\"\nchannels:\n  email:\n    enabled: false\n", ""},
	} {
		_, err := Parse("c.yaml", []byte("campaign: {name: CAMACA}\n"+tc.src), noEnv)
		// The campaign line shifts every line by one.
		want := tc.problem
		if want != "" {
			var line int
			fmt.Sscanf(want, "c.yaml:%d:", &line)
			want = fmt.Sprintf("c.yaml:%d:", line+1) + strings.SplitN(want, ":", 3)[2]
		}
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: unexpected problem %v", tc.src, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: want %q, got %v", tc.src, want, err)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TOKEN": "s3cret", "HOST": "https://social.example"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Parse("c.yaml", []byte("channels:\n  mastodon:\n    instance: ${HOST}\n    token: ${TOKEN}\n    language: ${LANG_UNSET:-en}\n"), lookup)
	if err != nil {
		t.Fatal(err)
	}
	var m mastodon.Config
	if probs := cfg.Channels[0].Decode(&m); len(probs) > 0 {
		t.Fatal(probs)
	}
	if m.Instance != "https://social.example" || m.Token.Reveal() != "s3cret" || m.Language != "en" {
		t.Fatalf("expansion wrong: %+v", m)
	}
	if !m.HasCredentials() {
		t.Error("credentials from the environment not seen")
	}
}

func TestProblemsAreAllReportedWithLines(t *testing.T) {
	t.Parallel()
	src := `campaign:
  name: CAMACA
  colour: red
log:
  format: xml
sources:
  feeds:
    - name: site
      url: https://camaca.example/feed
      schedule: "every five minutes"
    - name: site
      url: ""
      schedule: "CRON_TZ=Europe/London"
      on_edit: shout
      corrections: maybe
schedules:
  digest: "61 * * * *"
delivery:
  timeout: soon
channels:
  mastodon:
    mode: send
    token: ${MASTODON_TOKEN}
    visibility: everyone
  discord:
    colour: blue
`
	_, err := Parse("config.yaml", []byte(src), noEnv)
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []struct {
		line int
		text string
	}{
		{3, "campaign.colour: unknown key"},
		{5, "log.format: must be text or json"},
		{10, `sources.feeds[0].schedule: schedule "every five minutes"`},
		{11, `sources.feeds[1].name: duplicate feed name "site"`},
		{13, "time zone with no spec"},
		{14, "on_edit: must be ignore or update"},
		{15, "sources.feeds[1].corrections: must be ask"},
		{17, "schedules.digest"},
		{19, "delivery.timeout: expected a duration"},
		{23, "MASTODON_TOKEN is not set"},
		{24, "visibility: must be public"},
		{26, "colour: must be #rrggbb"},
	}
	text := err.Error()
	for _, w := range want {
		found := false
		for _, p := range probs {
			if p.Line == w.line && strings.Contains(p.String(), w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem at line %d containing %q in:\n%s", w.line, w.text, text)
		}
	}
	if !strings.Contains(text, "config.yaml:") {
		t.Errorf("problems must name the file: %s", text)
	}
}

func TestSecretsNeverInProblems(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) { return "hunter2-secret", true }
	_, err := Parse("c.yaml", []byte("channels:\n  discord:\n    token: ${DISCORD_TOKEN}\n    channel_id: notanid\n    mode: sideways\n"), env)
	if err == nil {
		t.Fatal("want problems")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("secret leaked into error: %v", err)
	}
}

func TestBrokenYAML(t *testing.T) {
	t.Parallel()
	_, err := Parse("c.yaml", []byte("campaign:\n  name: [unclosed\n"), noEnv)
	var probs Problems
	if !errors.As(err, &probs) || probs[0].Line == 0 {
		t.Fatalf("want a problem with a line, got %v", err)
	}
	_, err = Parse("c.yaml", nil, noEnv)
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("want an empty-file problem, got %v", err)
	}
}

func TestShortLinkSecretIsRefusedWithoutShowingIt(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) { return "short1", true }
	_, err := Parse("c.yaml", []byte("channels:\n  email:\n    link_secret: ${CRIER_LINK_SECRET}\n"), env)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:3: channels.email.link_secret: must be at least 16 characters") {
		t.Fatalf("want a line-numbered problem, got %v", err)
	}
	if strings.Contains(err.Error(), "short1") {
		t.Fatal("the secret leaked into the problem")
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("../config.yaml")
	f.Add(data)
	f.Add([]byte("channels:\n  mastodon:\n    token: ${T}\n"))
	f.Add([]byte("sources:\n  feeds:\n    - {name: a, url: b, schedule: '@every 1m'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, noEnv)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		var probs Problems
		if err != nil && errors.As(err, &probs) {
			for _, p := range probs {
				if p.File != "fuzz.yaml" {
					t.Fatalf("problem without its file: %+v", p)
				}
			}
		}
	})
}

func TestMisspeltKeySuggestsTheRightOne(t *testing.T) {
	_, err := Parse("config.yaml", []byte("sources:\n  feeds:\n    - name: site\n      url: https://camaca.example/feed\n      shedule: \"@every 5m\"\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), `config.yaml:5: sources.feeds[0].shedule: unknown key (did you mean "schedule"?)`) {
		t.Fatalf("want a did-you-mean on line 5, got %v", err)
	}
}

func TestYAMLMistakeInPlainWordsOnItsLine(t *testing.T) {
	_, err := Parse("config.yaml", []byte("campaign:\n  name: CAMACA\n  website: https://camaca.example\nlog:\n  format: text\n\tlevel: info\n"), noEnv)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Line != 6 || !strings.Contains(probs[0].Message, "indented with a tab") {
		t.Fatalf("want one problem on line 6 about the tab, got %v", err)
	}
	_, err = Parse("config.yaml", []byte("campaign:\n  name: CAMACA\n  website: [https://camaca.example\nlog:\n  format: text\n"), noEnv)
	if !errors.As(err, &probs) || probs[0].Line != 3 || !strings.Contains(probs[0].Message, "never closed") {
		t.Fatalf("want the unclosed list on line 3, got %v", err)
	}
}

func TestFetchAllowNetworks(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("fetch:\n  allow_networks: [10.0.0.0/8, 192.168.1.20]\n  timeout: 10s\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Fetch.AllowNetworks) != 2 || cfg.Fetch.Timeout.Seconds() != 10 {
		t.Errorf("fetch: %+v", cfg.Fetch)
	}
	_, err = Parse("c.yaml", []byte("fetch:\n  allow_networks:\n    - 10.0.0.0/8\n    - intranet.example\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:4: fetch.allow_networks[1]") || !strings.Contains(err.Error(), "CIDR") {
		t.Errorf("a host name in the allow-list: %v", err)
	}
}

// TestTokensAndClearTextSMTP: a short admin or metrics token and clear-text
// SMTP to another machine are config errors with their lines.
func TestTokensAndClearTextSMTP(t *testing.T) {
	src := `http:
  admin_token: organiser-token-123
  metrics_token: short
channels:
  email:
    from: news@camaca.org
    smtp:
      host: smtp.example.org
      tls: none
`
	_, err := Parse("c.yaml", []byte(src), noEnv)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want problems, got %v", err)
	}
	want := []string{
		"c.yaml:2: http.admin_token: must be at least 32 characters",
		"c.yaml:3: http.metrics_token: must be at least 16 characters",
		"c.yaml:9: channels.email.smtp.tls: tls: none to smtp.example.org would send",
	}
	if len(ps) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(ps[i].String(), w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, ps[i], w)
		}
	}
	if strings.Contains(err.Error(), "organiser-token-123") {
		t.Error("the token is echoed in the error")
	}
	ok := `http:
  admin_token: 0123456789abcdef0123456789abcdef
  metrics_token: 0123456789abcdef
channels:
  email:
    from: news@camaca.org
    smtp:
      host: relay.internal
      tls: none
      allow_insecure: true
`
	if _, err := Parse("c.yaml", []byte(ok), noEnv); err != nil {
		t.Fatalf("long tokens and an explicit allow_insecure: %v", err)
	}
}

func TestStoreDriver(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) {
		if k == "DATABASE_URL" {
			return "postgres://crier:pw@db:5432/crier?sslmode=verify-full", true
		}
		return "", false
	}
	cfg, err := config.Parse("c.yaml", []byte("store:\n  driver: postgres\n  dsn: ${DATABASE_URL}\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if d, target := cfg.Database(); d != "postgres" || !strings.Contains(target, "sslmode=verify-full") {
		t.Errorf("Database() = %s %s", d, target)
	}
	if strings.Contains(fmt.Sprintf("%+v", cfg.Store), "pw@") {
		t.Error("the DSN's password prints")
	}
	for yaml, want := range map[string]string{
		"store:\n  driver: postgres\n": "c.yaml:2: store.dsn: is empty",
		"store:\n  driver: mysql\n":    "c.yaml:2: store.driver: must be sqlite",
	} {
		if _, err := config.Parse("c.yaml", []byte(yaml), noEnv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", yaml, want, err)
		}
	}
}

func TestReachSectionProblemsNameTheLine(t *testing.T) {
	t.Parallel()
	src := "reach:\n  schedule: [1h, 30m, -1h]\n  keep_replies: 0s\n  reads_per_hour: 0\n  max_replies: 500\n"
	_, err := Parse("config.yaml", []byte(src), noEnv)
	if err == nil {
		t.Fatal("a bad reach: section was accepted")
	}
	for _, want := range []string{
		"config.yaml:2: reach.schedule[1]: must come after the one before it (1h0m0s)",
		"config.yaml:2: reach.schedule[2]: must be a positive duration",
		"config.yaml:3: reach.keep_replies: must be a positive duration",
		"config.yaml:4: reach.reads_per_hour: must be at least 1",
		"config.yaml:5: reach.max_replies: must be between 1 and 200",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	cfg, err := Parse("config.yaml", []byte("reach: {schedule: [2h, 48h]}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := config.DefaultReach(); len(cfg.Reach.Schedule) != 2 || cfg.Reach.Schedule[1] != 48*time.Hour || cfg.Reach.KeepReplies != d.KeepReplies || cfg.Reach.ReadsPerHour != d.ReadsPerHour {
		t.Errorf("reach = %+v, want the schedule given and the rest shipped", cfg.Reach)
	}
}

// campaign.colours: each must be #rrggbb, and a mistake names the field
// and its line.
func TestCampaignColours(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("c.yaml", []byte("campaign:\n  name: C\n  colours:\n    background: \"#0B3D2E\"\n    accent: \"#f2c14e\"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Campaign.Colours; c.Background != "#0B3D2E" || c.Accent != "#f2c14e" || c.Text != "" {
		t.Errorf("colours: %+v", c)
	}
	for yaml, want := range map[string]string{
		"campaign:\n  colours:\n    background: green\n":                       `c.yaml:3: campaign.colours.background: must be a colour written #rrggbb, such as #1d3557 (got "green")`,
		"campaign:\n  colours:\n    text: \"#fff\"\n":                          `c.yaml:3: campaign.colours.text: must be a colour written #rrggbb`,
		"campaign:\n  colours:\n    text: \"#000000\"\n    accent: 0x123456\n": `c.yaml:4: campaign.colours.accent: must be a colour written #rrggbb`,
	} {
		if _, err := config.Parse("c.yaml", []byte(yaml), noEnv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", yaml, want, err)
		}
	}
}
