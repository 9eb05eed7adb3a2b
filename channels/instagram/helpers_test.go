package instagram_test

import (
	"time"

	"github.com/crierhq/crier/channels/instagram"
)

// provider is the channel type with quick container polls; its title
// cards are titlecard's own.
func provider() instagram.Provider {
	return instagram.Provider{Options: instagram.Options{PollEvery: 5 * time.Millisecond}}
}
