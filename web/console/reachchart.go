package console

// The Reach panel's chart: how a post's counters grew over its reads, drawn
// on the server as SVG (no script), with a sentence saying what it shows and
// a table of its numbers for those who cannot see it.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
)

// Chart geometry, in the SVG's own units (it scales to the panel's width).
const (
	chartW, chartH                           = 480, 220
	chartLeft, chartRight, chartTop, chartBo = 44, 12, 12, 30
)

// chartView is one chart, ready for the template.
type chartView struct {
	ID             string // unique on the page, for aria ids
	W, H           int
	Left, Right    int // the plot's x bounds
	Bottom         int // the plot's baseline y
	Title, Summary string
	Lines          []chartLine
	YTicks, XTicks []chartTick
	// Names and Rows are the table of the numbers: a row per read.
	Names []string
	Rows  []chartRow
}

type chartLine struct {
	Name, Class string
	// Segments are polyline point lists; a read that did not give the
	// counter breaks the line.
	Segments []string
	Dots     []chartDot
}

type chartDot struct{ X, Y string }

type chartTick struct {
	Pos, Label string
	Anchor     string // the label's text-anchor
}

type chartRow struct {
	At     time.Time
	Values []channels.Count
}

// chartOf draws the known series over history; nil when there is nothing
// to draw (no good read yet).
func (c *Console) chartOf(history []ReachPoint, ss []series, n int) *chartView {
	var drawn []series
	for _, s := range ss {
		for _, v := range s.Values {
			if v.Known {
				drawn = append(drawn, s)
				break
			}
		}
	}
	if len(history) == 0 || len(drawn) == 0 {
		return nil
	}
	ch := &chartView{ID: "reach-chart-" + strconv.Itoa(n), W: chartW, H: chartH, Left: chartLeft, Right: chartW - chartRight,
		Bottom: chartH - chartBo, Title: "How the counts grew over the reads"}
	top := int64(0)
	for _, s := range drawn {
		ch.Names = append(ch.Names, s.Name)
		for _, v := range s.Values {
			top = max(top, v.N)
		}
	}
	top = niceCeil(top)
	first, last := history[0].At, history[len(history)-1].At
	x := func(t time.Time) float64 {
		span := last.Sub(first)
		if span <= 0 {
			return float64(chartLeft+chartW-chartRight) / 2
		}
		return chartLeft + float64(t.Sub(first))/float64(span)*float64(chartW-chartLeft-chartRight)
	}
	y := func(v int64) float64 {
		return float64(chartH-chartBo) - float64(v)/float64(top)*float64(chartH-chartBo-chartTop)
	}
	for i, s := range drawn {
		line := chartLine{Name: s.Name, Class: "s" + strconv.Itoa(i%6)}
		var seg []string
		for p, v := range s.Values {
			if !v.Known {
				line.Segments, seg = appendSegment(line.Segments, seg), nil
				continue
			}
			px, py := num(x(history[p].At)), num(y(v.N))
			seg = append(seg, px+","+py)
			line.Dots = append(line.Dots, chartDot{X: px, Y: py})
		}
		line.Segments = appendSegment(line.Segments, seg)
		ch.Lines = append(ch.Lines, line)
	}
	ticks := []int64{0, top}
	if top%2 == 0 && top >= 2 {
		ticks = []int64{0, top / 2, top} // a round middle line
	}
	for _, v := range ticks {
		ch.YTicks = append(ch.YTicks, chartTick{Pos: num(y(v)), Label: strconv.FormatInt(v, 10), Anchor: "end"})
	}
	ch.XTicks = append(ch.XTicks, chartTick{Pos: num(x(first)), Label: c.shortTime(first), Anchor: "start"})
	if last.After(first) {
		ch.XTicks = append(ch.XTicks, chartTick{Pos: num(x(last)), Label: c.shortTime(last), Anchor: "end"})
	} else {
		ch.XTicks[0].Anchor = "middle"
	}
	for p, pt := range history {
		row := chartRow{At: pt.At}
		for _, s := range drawn {
			row.Values = append(row.Values, s.Values[p])
		}
		ch.Rows = append(ch.Rows, row)
	}
	ch.Summary = c.chartSummary(history, drawn)
	return ch
}

// appendSegment keeps a line segment of at least one point.
func appendSegment(segs, seg []string) []string {
	if len(seg) == 0 {
		return segs
	}
	return append(segs, strings.Join(seg, " "))
}

// chartSummary says in words what the chart shows: per counter, its first
// and last known value over the reads.
func (c *Console) chartSummary(history []ReachPoint, drawn []series) string {
	var parts []string
	for _, s := range drawn {
		var from, to channels.Count
		for _, v := range s.Values {
			if v.Known {
				if !from.Known {
					from = v
				}
				to = v
			}
		}
		if from.N == to.N {
			parts = append(parts, fmt.Sprintf("%s %d", s.Name, to.N))
		} else {
			parts = append(parts, fmt.Sprintf("%s from %d to %d", s.Name, from.N, to.N))
		}
	}
	reads := "1 read"
	if len(history) != 1 {
		reads = strconv.Itoa(len(history)) + " reads"
	}
	when := "at " + c.showTime(history[0].At)
	if last := history[len(history)-1].At; last.After(history[0].At) {
		when = "from " + c.showTime(history[0].At) + " to " + c.showTime(last)
	}
	return reads + " " + when + ": " + strings.Join(parts, "; ") + "."
}

// niceCeil is the smallest of 1, 2, 5, 10, 20, 50, ... at least n: the
// chart's top, so its middle line is a round number.
func niceCeil(n int64) int64 {
	for step := int64(1); ; step *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*step >= n {
				return m * step
			}
		}
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// shortTime is a chart axis's time: day and time, without the year.
func (c *Console) shortTime(t time.Time) string {
	return t.In(c.opts.Location).Format("2 Jan 15:04")
}
