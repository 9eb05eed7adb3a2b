package matrix_test

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/post"
)

func parse(t *testing.T, yaml string, env map[string]string) ([]channels.Instance, error) {
	t.Helper()
	_, insts, err := channels.NewRegistry(matrix.Provider{}).Parse("config.yaml", []byte("campaign: {name: CAMACA, website: https://camaca.example}\nchannels:\n"+yaml),
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return insts, err
}

// Several instances, each its own account and rooms; without credentials
// an instance renders to the outbox; a config without a matrix section
// gains no channel.
func TestInstancesAndOutboxMode(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, `  matrix:
    enabled: true
    homeserver: ${MATRIX_HOMESERVER:-}
    access_token: ${MATRIX_ACCESS_TOKEN:-}
    room: ${MATRIX_ROOM:-}
  matrix-volunteers:
    type: matrix
    enabled: true
    homeserver: https://matrix.example.org
    access_token: ${VOLUNTEERS_TOKEN}
    room: "#volunteers:example.org"
    rooms: ["!abc:example.org", "#volunteers:example.org"]
`, map[string]string{"VOLUNTEERS_TOKEN": "syt_secret"})
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 2 || !insts[0].UsesOutbox() || insts[1].UsesOutbox() || insts[1].Name != "matrix-volunteers" {
		t.Fatalf("instances %+v", insts)
	}
	// The outbox renders without credentials, as the instance's payload.
	f, err := insts[0].Settings.Formatter(channels.Campaign{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := f.Format(post.Post{ID: "p", Title: "Vigil"})
	if err != nil || pl.Channel != "matrix" || len(pl.Body.(matrix.Body).Messages) != 1 {
		t.Errorf("outbox payload %+v, %v", pl, err)
	}
	if none, err := parse(t, "  {}\n", nil); err != nil || len(channels.Enabled(none)) != 0 {
		t.Errorf("without a matrix section: %+v, %v", none, err)
	}
}

// Each mistake is reported at its line with what to write.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	_, err := parse(t, `  matrix:
    enabled: true
    mode: send
    homeserver: matrix.example.org
    room: news
    rooms: ["#ok:example.org", "general"]
`, nil)
	if err == nil {
		t.Fatal("no problem reported")
	}
	for _, want := range []string{
		"config.yaml:6: channels.matrix.homeserver: must be the homeserver's address",
		"config.yaml:7: channels.matrix.room: must be a room ID",
		"config.yaml:8: channels.matrix.rooms[1]: must be a room ID",
		"channels.matrix.access_token: mode is send but",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the problems lack %q:\n%v", want, err)
		}
	}
}
