package console

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// whenStyle is how the campaign's locale (campaign.language, with its
// region) writes a date and time: the order of day, month and year, the
// separator, and whether hours run 1 to 12 with am/pm. The schedule field
// is a text field written this way rather than <input type=datetime-local>,
// which the browser shows in its own locale, not the campaign's: an
// organiser in Leeds with an American browser would read 12/08 as the
// eighth of December one day and August the next.
type whenStyle struct {
	order  string // "dmy", "mdy" or "ymd"
	sep    string
	twelve bool
}

// whenStyleFor is the style of campaign language lang ("en-GB", "de",
// "fr-CA"). A language without a region takes its most usual one; English
// without one is British unless the campaign's time zone is in the
// Americas.
func whenStyleFor(lang string, loc *time.Location) whenStyle {
	tag, err := language.Parse(strings.TrimSpace(lang))
	if err != nil {
		tag = language.English
	}
	base, _ := tag.Base()
	region, conf := tag.Region()
	reg := ""
	if conf == language.Exact {
		reg = region.String()
	}
	switch b := base.String(); {
	case b == "en" && reg == "" && loc != nil && strings.HasPrefix(loc.String(), "America/"):
		return whenStyle{"mdy", "/", true}
	case b == "en" && (reg == "US" || reg == "PH"):
		return whenStyle{"mdy", "/", true}
	case (b == "en" || b == "fr") && reg == "CA":
		return whenStyle{"ymd", "-", false}
	case b == "en", b == "fr", b == "es", b == "it", b == "pt", b == "el", b == "ga", b == "cy", b == "ca", b == "vi", b == "id":
		return whenStyle{"dmy", "/", false}
	case b == "de", b == "da", b == "fi", b == "nb", b == "nn", b == "no", b == "ru", b == "pl", b == "cs", b == "sk", b == "tr", b == "uk", b == "ro", b == "hr", b == "sl", b == "bg", b == "et", b == "lv":
		return whenStyle{"dmy", ".", false}
	case b == "nl":
		return whenStyle{"dmy", "-", false}
	}
	return whenStyle{"ymd", "-", false} // ISO 8601: Swedish, Lithuanian, Japanese, Chinese, Korean and the rest
}

// Pattern is what the field's placeholder and hint show: "dd/mm/yyyy hh:mm".
func (s whenStyle) Pattern() string {
	parts := map[byte]string{'d': "dd", 'm': "mm", 'y': "yyyy"}
	p := parts[s.order[0]] + s.sep + parts[s.order[1]] + s.sep + parts[s.order[2]] + " hh:mm"
	if s.twelve {
		p += " am"
	}
	return p
}

// layout is s as a Go time layout.
func (s whenStyle) layout() string {
	parts := map[byte]string{'d': "02", 'm': "01", 'y': "2006"}
	l := parts[s.order[0]] + s.sep + parts[s.order[1]] + s.sep + parts[s.order[2]]
	if s.twelve {
		return l + " 03:04 pm"
	}
	return l + " 15:04"
}

// Format writes t (already in the campaign's zone) in the style.
func (s whenStyle) Format(t time.Time) string { return t.Format(s.layout()) }

var (
	// isoWhen is 2026-12-08T09:00 (what datetime-local sends, and what
	// people paste), seconds allowed.
	isoWhen = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})[t ](\d{1,2})[:.](\d{2})(?::(\d{2}))?$`)
	// localWhen is three numbers with one separator between them, then
	// the time: 8/12/2026 9:00, 08.12.2026, 09.00, 12/8/2026 9:00 pm.
	localWhen = regexp.MustCompile(`^(\d{1,4})([/.\-])(\d{1,2})([/.\-])(\d{1,4})(?:,\s*|\s+)(?:um\s+|à\s+|a las\s+)?(\d{1,2})[:.h](\d{2})\s*(?:h|uhr)?\s*([ap])?\.?\s*(?:m\.?)?$`)
)

// errNoWhen is the answer to an empty schedule field.
var errNoWhen = errors.New("Please choose when the post goes out.")

// Parse reads v, written in the style (or as 2026-12-08T09:00), as a time
// in loc. Its errors name the expected format.
func (s whenStyle) Parse(v string, loc *time.Location) (time.Time, error) {
	shown := strings.Join(strings.Fields(v), " ")
	if shown == "" {
		return time.Time{}, errNoWhen
	}
	v = strings.ToLower(shown)
	var y, mo, d, h, mi, sec int
	if m := isoWhen.FindStringSubmatch(v); m != nil {
		y, mo, d, h, mi = atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4]), atoi(m[5])
		sec = atoi(m[6])
	} else if m := localWhen.FindStringSubmatch(v); m != nil && m[2] == m[4] && m[2] == s.sep && len(m[1+2*strings.IndexByte(s.order, 'y')]) == 4 {
		nums := []string{m[1], m[3], m[5]}
		for i, f := range s.order {
			switch f {
			case 'd':
				d = atoi(nums[i])
			case 'm':
				mo = atoi(nums[i])
			case 'y':
				y = atoi(nums[i])
			}
		}
		h, mi = atoi(m[6]), atoi(m[7])
		if m[8] != "" { // 12-hour clock: 12 am is midnight, 12 pm noon
			if h < 1 || h > 12 {
				return time.Time{}, s.notAWhen(shown)
			}
			h %= 12
			if m[8] == "p" {
				h += 12
			}
		}
	} else {
		return time.Time{}, s.notAWhen(shown)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc)
	if mo < 1 || mo > 12 || d < 1 || t.Day() != d || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("“%s” is not a day and time that exists: write it %s, such as %s.", shown, s.Pattern(), s.example())
	}
	return t, nil
}

func (s whenStyle) notAWhen(v string) error {
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "…"
	}
	return fmt.Errorf("“%s” is not a date and time written %s: write it such as %s (or 2026-12-08T09:00).", v, s.Pattern(), s.example())
}

// example is the style's way of writing Tuesday 8 December 2026, 09:00.
func (s whenStyle) example() string {
	return s.Format(time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// inWords is a time as the field's echo says it: "Tuesday 8 December
// 2026, 09:00 GMT".
func inWords(t time.Time) string { return t.Format("Monday 2 January 2006, 15:04 MST") }

// when is the campaign's style of writing times.
func (c *Console) when() whenStyle { return whenStyleFor(c.opts.Language, c.opts.Location) }

// formatWhen writes t in the campaign's style and zone, for the field.
func (c *Console) formatWhen(t time.Time) string { return c.when().Format(t.In(c.opts.Location)) }

// whenEcho says in words what the field's value v means, or what is wrong
// with it; "" for an empty field. The page shows it under the field, and
// the field's script asks /when for it as the organiser types.
func (c *Console) whenEcho(v string) (echo string, problem bool) {
	if strings.TrimSpace(v) == "" {
		return "", false
	}
	t, err := c.when().Parse(v, c.opts.Location)
	if err != nil {
		return err.Error(), true
	}
	return inWords(t), false
}

// whenCheck answers the schedule field's script: the echo of ?v as text,
// with status 422 when it is not a time.
func (c *Console) whenCheck(w http.ResponseWriter, r *http.Request, _ Session) {
	echo, problem := c.whenEcho(r.URL.Query().Get("v"))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if problem {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	fmt.Fprint(w, echo)
}
