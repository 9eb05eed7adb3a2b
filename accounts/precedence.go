package accounts

import "fmt"

// Origin is where an instance's connection comes from.
type Origin string

// The origins, in the words the console shows.
const (
	// OnServer: the environment or the config file gives the instance its
	// credentials; it wins, and the console cannot change it.
	OnServer Origin = "configured on the server"
	// FromConsole: no server credentials, an account connected in the
	// console applies.
	FromConsole Origin = "connected from the console"
	// NotConnected: neither; the instance saves posts to the outbox.
	NotConnected Origin = "not connected"
)

// Effective states the precedence rule: credentials configured on the
// server (environment or config file, onServer) win over a stored
// connection, which wins over none.
func Effective(onServer, stored bool) Origin {
	switch {
	case onServer: // whoever deploys decides; the console shows it read-only
		return OnServer
	case stored:
		return FromConsole
	default:
		return NotConnected
	}
}

// Editable reports whether the console may connect, change or disconnect
// an instance with this origin.
func (o Origin) Editable() bool { return o != OnServer }

// ConfiguredOnServerError refuses a console change to an instance whose
// credentials come from the server.
type ConfiguredOnServerError struct{ Instance string }

func (e ConfiguredOnServerError) Error() string {
	return fmt.Sprintf("%s is configured on the server (environment or config file), which wins over the console: change it there, or remove it there to connect it from the console", e.Instance)
}

// MayChange returns nil when the console may change instance's connection,
// else a ConfiguredOnServerError that says where to change it.
func MayChange(instance string, onServer bool) error {
	if onServer {
		return ConfiguredOnServerError{Instance: instance}
	}
	return nil
}
