package console

// The What worked page (issue 24): every post delivered in a period with
// what it reached per channel, sortable by any column, filterable by
// channel, tag and source, and the same as CSV. A channel's total is the
// sum of the interactions it reports (replies, reposts, likes, quotes,
// reactions, clicks, archive views); "not available" when it reports none.

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/csvsafe"
)

// workedPeriods are the period presets, in days; "custom" takes from and to.
var workedPeriods = []struct{ Value, Label string }{
	{"7", "Last 7 days"}, {"30", "Last 30 days"}, {"90", "Last 90 days"}, {"custom", "Between two dates"},
}

// maxWorkedDays bounds a custom period: the page lists every post in it.
const maxWorkedDays = 366

// engagementExtras are the channel-specific counts that are interactions
// (counted in a total); delivered, bounced and the like are not.
var engagementExtras = []string{"clicks", "page views", "archive views"}

// workedQuery is the page's query: period, filters and sort.
type workedQuery struct {
	Period, From, To     string
	Channel, Tag, Source string
	// Sort is "title", "when", "source", "state", "total" or "ch:NAME".
	Sort string
	Desc bool
}

func parseWorkedQuery(q url.Values) workedQuery {
	w := workedQuery{Period: q.Get("period"), From: q.Get("from"), To: q.Get("to"), Channel: q.Get("channel"),
		Tag: q.Get("tag"), Source: q.Get("source"), Sort: q.Get("sort"), Desc: q.Get("dir") != "asc"}
	if !slices.ContainsFunc(workedPeriods, func(p struct{ Value, Label string }) bool { return p.Value == w.Period }) {
		w.Period = "30"
	}
	if w.Sort == "" {
		w.Sort = "when"
	}
	return w
}

// values is the query as URL values, with sort and direction overridden
// when given.
func (w workedQuery) values(sort string, desc bool) url.Values {
	v := url.Values{"period": {w.Period}}
	for k, x := range map[string]string{"from": w.From, "to": w.To, "channel": w.Channel, "tag": w.Tag, "source": w.Source} {
		if x != "" && (w.Period == "custom" || (k != "from" && k != "to")) {
			v.Set(k, x)
		}
	}
	if sort != "when" || !desc {
		v.Set("sort", sort)
		if !desc {
			v.Set("dir", "asc")
		}
	}
	return v
}

// span is the period as [from, to) in the campaign's time zone; problem
// says what is wrong with a custom period.
func (c *Console) span(w workedQuery) (from, to time.Time, problem string) {
	now := c.opts.Now().In(c.opts.Location)
	if w.Period != "custom" {
		days, _ := strconv.Atoi(w.Period)
		return now.AddDate(0, 0, -days), now, ""
	}
	day := func(name, v string) (time.Time, string) {
		t, err := time.ParseInLocation("2006-01-02", v, c.opts.Location)
		if err != nil {
			return t, "The " + name + " date " + strconv.Quote(v) + " is not a date such as " + now.Format("2006-01-02") + "."
		}
		return t, ""
	}
	from, problem = day("from", w.From)
	if problem != "" {
		return from, to, problem
	}
	last, problem := day("to", w.To)
	if problem != "" {
		return from, to, problem
	}
	to = last.AddDate(0, 0, 1)
	switch {
	case !to.After(from):
		return from, to, "The period ends before it starts: the to date must be on or after the from date."
	case to.Sub(from) > maxWorkedDays*24*time.Hour:
		return from, to, fmt.Sprintf("The period is longer than %d days: choose a shorter one.", maxWorkedDays)
	}
	return from, to, ""
}

// workedRow is one post on the What worked page.
type workedRow struct {
	PostReach
	State listState
	Cells []workedCell // one per column channel
	Total channels.Count
}

func (r workedRow) StateLabel() string { return stateLabel(r.State) }

// workedCell is one post's reach on one channel.
type workedCell struct {
	Went   bool // the post went out on this channel
	Total  channels.Count
	Detail string // "3 likes · 1 reply"
}

// interactions adds the interactions a channel reports: known only when it
// reports at least one of them.
func interactions(cr ChannelReach) channels.Count {
	var sum channels.Count
	add := func(c channels.Count) {
		if c.Known {
			sum = channels.CountOf(sum.N + c.N)
		}
	}
	for _, c := range counterValues(cr.Latest) {
		add(c)
	}
	for _, n := range cr.Extra {
		if slices.Contains(engagementExtras, strings.ToLower(n.Name)) {
			add(n.Count)
		}
	}
	return sum
}

// detail lists a channel's known counts in words.
func detail(cr ChannelReach) string {
	var parts []string
	for _, s := range seriesOf(ChannelReach{Type: cr.Type, Latest: cr.Latest, Extra: cr.Extra}) {
		if s.Latest.Known {
			parts = append(parts, s.Latest.String()+" "+singular(s.Latest.N, s.Name))
		}
	}
	return strings.Join(parts, " · ")
}

// workedData reads the period's posts, filtered and sorted, with the
// filters' choices (from the whole period) and the column channels.
func (c *Console) workedData(r *http.Request, w workedQuery) (map[string]any, error) {
	from, to, problem := c.span(w)
	data := map[string]any{"Q": w, "Periods": workedPeriods, "Problem": problem,
		"From": from, "To": to.Add(-time.Nanosecond)}
	if problem != "" {
		return data, nil
	}
	posts, err := c.opts.Reach.Period(r.Context(), from, to)
	if err != nil {
		return nil, err
	}
	var chans, tags, sources []string
	for _, p := range posts {
		for _, cr := range p.Channels {
			chans = appendNew(chans, cr.Channel)
		}
		for _, t := range p.Tags {
			tags = appendNew(tags, t)
		}
		sources = appendNew(sources, p.Source)
	}
	slices.Sort(tags)
	slices.Sort(sources)
	cols := chans
	if w.Channel != "" {
		cols = []string{w.Channel}
	}
	states, err := c.statesOf(r, posts)
	if err != nil {
		return nil, err
	}
	var rows []workedRow
	for _, p := range posts {
		if (w.Tag != "" && !slices.Contains(p.Tags, w.Tag)) || (w.Source != "" && p.Source != w.Source) ||
			(w.Channel != "" && !slices.ContainsFunc(p.Channels, func(cr ChannelReach) bool { return cr.Channel == w.Channel })) {
			continue
		}
		row := workedRow{PostReach: p, State: cmp.Or(states[p.PostID], stateOther)}
		for _, ch := range cols {
			cell := workedCell{}
			for _, cr := range p.Channels {
				if cr.Channel == ch {
					cell = workedCell{Went: true, Total: interactions(cr), Detail: detail(cr)}
				}
			}
			if cell.Total.Known {
				row.Total = channels.CountOf(row.Total.N + cell.Total.N)
			}
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	sortWorked(rows, w, cols)
	data["Rows"], data["Columns"], data["Channels"], data["Tags"], data["Sources"] = rows, cols, chans, tags, sources
	data["Heads"] = c.workedHeads(w, cols)
	// The same choice as the headers' links, for phones, where the
	// headers are not shown.
	var sorts []struct{ Value, Label string }
	for _, h := range data["Heads"].([]workedHead) {
		sorts = append(sorts, struct{ Value, Label string }{h.Key, h.Label})
	}
	data["Sorts"] = sorts
	data["CSVURL"] = "/worked.csv?" + w.values(w.Sort, w.Desc).Encode()
	return data, nil
}

// singular is a count's name for n of it: "1 reply", "2 replies".
func singular(n int64, name string) string {
	switch {
	case n != 1:
		return name
	case strings.HasSuffix(name, "ies"):
		return strings.TrimSuffix(name, "ies") + "y"
	}
	return strings.TrimSuffix(name, "s")
}

func appendNew(xs []string, x string) []string {
	if x == "" || slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// statesOf reads the posts' states as the posts list shows them.
func (c *Console) statesOf(r *http.Request, posts []PostReach) (map[string]listState, error) {
	out := map[string]listState{}
	if len(posts) == 0 {
		return out, nil
	}
	ids := make([]string, len(posts))
	for i, p := range posts {
		ids[i] = p.PostID
	}
	listed, _, err := c.opts.Store.ListPosts(r.Context(), store.PostQuery{Only: ids, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	wfs, err := c.workflows(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	for _, l := range listed {
		out[l.ID] = stateOf(l.Status, wfs[l.ID])
	}
	return out, nil
}

// compareCounts orders unknown counts before every known one.
func compareCounts(a, b channels.Count) int {
	if a.Known != b.Known {
		if a.Known {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.N, b.N)
}

// sortWorked sorts the rows by the query's column; ties newest first. A
// count "not available" sorts below every number (last when descending).
func sortWorked(rows []workedRow, w workedQuery, cols []string) {
	key := func(a, b workedRow) int {
		switch {
		case w.Sort == "title":
			return cmp.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
		case w.Sort == "source":
			return cmp.Compare(a.Source, b.Source)
		case w.Sort == "state":
			return cmp.Compare(a.StateLabel(), b.StateLabel())
		case w.Sort == "total":
			return compareCounts(a.Total, b.Total)
		case strings.HasPrefix(w.Sort, "ch:"):
			if i := slices.Index(cols, strings.TrimPrefix(w.Sort, "ch:")); i >= 0 {
				return compareCounts(a.Cells[i].Total, b.Cells[i].Total)
			}
		}
		return a.At.Compare(b.At)
	}
	slices.SortStableFunc(rows, func(a, b workedRow) int {
		k := key(a, b)
		if w.Desc {
			k = -k
		}
		return cmp.Or(k, b.At.Compare(a.At))
	})
}

// workedHead is a sortable column header: its link sorts by it, the other
// way round when it is the sort already.
type workedHead struct {
	Key, Label, URL string
	// Sort is aria-sort's value: "ascending", "descending" or "none".
	Sort string
}

func (c *Console) workedHeads(w workedQuery, cols []string) []workedHead {
	keys := [][2]string{{"title", "Post"}, {"state", "State"}, {"source", "Source"}, {"when", "Went out"}}
	for _, ch := range cols {
		keys = append(keys, [2]string{"ch:" + ch, title(ch)})
	}
	keys = append(keys, [2]string{"total", "Total"})
	var out []workedHead
	for _, k := range keys {
		h := workedHead{Key: k[0], Label: k[1], Sort: "none"}
		// Numbers and times sort largest first; words from A.
		desc := k[0] != "title" && k[0] != "source" && k[0] != "state"
		if w.Sort == k[0] {
			h.Sort = map[bool]string{true: "descending", false: "ascending"}[w.Desc]
			desc = !w.Desc
		}
		h.URL = "/worked?" + w.values(k[0], desc).Encode()
		out = append(out, h)
	}
	return out
}

func (c *Console) whatWorked(w http.ResponseWriter, r *http.Request, s Session) {
	if c.opts.Reach == nil {
		c.notFound(w, r, "reach is not read on this server")
		return
	}
	data, err := c.workedData(r, parseWorkedQuery(r.URL.Query()))
	if err != nil {
		c.serverError(w, r, "reading what the posts reached", err)
		return
	}
	if data["Problem"] != "" {
		w.WriteHeader(http.StatusBadRequest)
	}
	c.render(w, r, s, "worked", data)
}

// whatWorkedCSV is the What worked page as CSV: a line per post and
// channel, with every counter; an empty cell is "not available", never 0.
func (c *Console) whatWorkedCSV(w http.ResponseWriter, r *http.Request, s Session) {
	if c.opts.Reach == nil {
		c.notFound(w, r, "reach is not read on this server")
		return
	}
	q := parseWorkedQuery(r.URL.Query())
	data, err := c.workedData(r, q)
	if err != nil {
		c.serverError(w, r, "reading what the posts reached", err)
		return
	}
	if p, _ := data["Problem"].(string); p != "" {
		http.Error(w, p, http.StatusBadRequest)
		return
	}
	rows, _ := data["Rows"].([]workedRow)
	var extras []string
	for _, row := range rows {
		for _, cr := range row.Channels {
			for _, n := range cr.Extra {
				if _, ok := perLink(n); !ok {
					extras = appendNew(extras, n.Name)
				}
			}
		}
	}
	name := fmt.Sprintf("crier-what-worked-%s-to-%s.csv", data["From"].(time.Time).Format("2006-01-02"), data["To"].(time.Time).Format("2006-01-02"))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	head := []string{"post_id", "title", "source", "tags", "went_out", "state", "channel", "type",
		"replies", "reposts", "likes", "quotes", "reactions"}
	for _, e := range extras {
		head = append(head, strings.ReplaceAll(strings.ToLower(e), " ", "_"))
	}
	cw.Write(append(head, "interactions", "last_read"))
	cell := func(c channels.Count) string {
		if !c.Known {
			return ""
		}
		return strconv.FormatInt(c.N, 10)
	}
	for _, row := range rows {
		for _, cr := range row.Channels {
			if q.Channel != "" && cr.Channel != q.Channel {
				continue
			}
			line := []string{csvsafe.Cell(row.PostID), csvsafe.Cell(row.Title), csvsafe.Cell(row.Source),
				csvsafe.Cell(strings.Join(row.Tags, ";")), row.At.UTC().Format(time.RFC3339), row.StateLabel(),
				csvsafe.Cell(cr.Channel), csvsafe.Cell(cr.Type)}
			for _, v := range counterValues(cr.Latest) {
				line = append(line, cell(v))
			}
			for _, e := range extras {
				var v channels.Count
				for _, n := range cr.Extra {
					if n.Name == e {
						v = n.Count
					}
				}
				line = append(line, cell(v))
			}
			var read string
			if !cr.LastRead.IsZero() {
				read = cr.LastRead.UTC().Format(time.RFC3339)
			}
			cw.Write(append(line, cell(interactions(cr)), read))
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		c.opts.Logger.Warn("console: writing the What worked CSV", "err", err)
	}
}
