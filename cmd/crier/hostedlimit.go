package main

import (
	"time"

	"github.com/crierhq/crier/web"
)

// hostedLimit bounds the requests for pictures under /hosted/ per client
// address: 120 at once, then 2 a second. Meta fetches a picture a few times
// (the Instagram and Threads containers, retries, a carousel of up to 20
// pictures, several channels publishing at once) from many crawler
// addresses, so its fetchers stay far below it; a client asking more than
// 2 a second for long is not Meta, and each request costs a database
// query on the connection deliveries use.
var hostedLimit = web.RateLimit{Burst: 120, Every: 500 * time.Millisecond}
