package titlecard

import (
	"fmt"
	"image/color"
	"strconv"
)

// ParseColour reads a colour written "#rrggbb" (as in campaign.colours).
// An empty string is nil, which Draw takes as Crier's default.
func ParseColour(s string) (color.Color, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) != 7 || s[0] != '#' {
		return nil, fmt.Errorf("colour %q is not written #rrggbb (for example #1d3557)", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return nil, fmt.Errorf("colour %q is not written #rrggbb (for example #1d3557): %q is not hexadecimal", s, s[1:])
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}, nil
}
