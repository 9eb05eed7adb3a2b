// Command bsdgen writes ../expected.tsv: for each recipient of each message
// of sisimai's maildir/bsd set, the class Crier must read it as, taken from
// sisimai's own test tables.
//
// It is a one-off, run by hand when the corpus is refreshed; it is not part
// of Crier's module (testdata is ignored by the go tool). Inputs, all public
// BSD-2 sisimai repositories:
//
//	go-sisimai/  the Go port (git archive of github.com/sisimai/go-sisimai),
//	             run here only to learn each index's recipient address and
//	             read for its table tests in fact/*_test.go
//	p5/t/        the Perl port's t/ directory (github.com/sisimai/p5-sisimai)
//
// Usage, from this directory:
//
//	git --git-dir=<go-sisimai.git> archive HEAD | tar -x -C go-sisimai
//	git --git-dir=<p5-sisimai.git> archive HEAD t | tar -x -C p5
//	go mod tidy && go run . -perl p5/t -gotests go-sisimai/fact -mail .. > ../expected.tsv
//
// The class of a recipient follows sisimai's hardbounce flag: hard when it
// is set; complaint for reason "feedback" (except DMARC auth-failure, virus
// and not-spam reports, which nobody sent by pressing a button: none);
// auto-reply for "vacation"; none for "delivered"; soft for everything else.
// When the Perl and the Go tables disagree on the class, the row gives the
// Perl table's class, the Go table's in "also" (the test accepts either)
// and a note; rows neither table lists take the Go port's own result
// ("run"). Columns: file, index, recipient, class, also, reason, source,
// note.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"libsisimai.org/sisimai"
)

type want struct {
	status, reason string
	hard           bool
}

// key is "file.eml#index" (index from 1, in sisimai's recipient order).
type table map[string]want

var (
	perlLabel = regexp.MustCompile(`'(\d{2,5})'\s*=>`)
	perlTuple = regexp.MustCompile(`\[\s*'([^']*)',\s*'([^']*)',\s*'(\w+)',\s*(\d)`)
	goTuple   = regexp.MustCompile(`\{\s*"(\d+)",\s*(\d+),\s*"([^"]*)",\s*"([^"]*)",\s*"(\w+)",\s*(true|false)`)
	testName  = regexp.MustCompile(`^\d+-(.+?)(_test\.go|\.t)$`)
)

func main() {
	perlDir := flag.String("perl", "p5/t", "the Perl port's t/ directory")
	goDir := flag.String("gotests", "go-sisimai/fact", "the Go port's fact/ test directory")
	mailDir := flag.String("mail", "..", "the maildir/bsd copy")
	flag.Parse()
	perl, gotab := readPerl(*perlDir), readGo(*goDir)
	files, _ := filepath.Glob(filepath.Join(*mailDir, "*.eml"))
	sort.Strings(files)
	fmt.Println("# file\tindex\trecipient\tclass\talso\treason\tsource\tnote")
	args := sisimai.Args()
	args.Delivered, args.Vacation = true, true
	for _, f := range files {
		name := filepath.Base(f)
		facts, _ := sisimai.Rise(f, args)
		if facts == nil || len(*facts) == 0 {
			unparsed(name, perl, gotab)
			continue
		}
		for i, fa := range *facts {
			k := fmt.Sprintf("%s#%d", name, i+1)
			run := want{fa.DeliveryStatus, fa.Reason, fa.HardBounce}
			p, inPerl := perl[k]
			g, inGo := gotab[k]
			use, src, note, also := run, "run", "", ""
			switch {
			case inPerl && inGo:
				use, src = p, "perl+go"
				if class(p, fa.FeedbackType) != class(g, fa.FeedbackType) {
					src, also, note = "perl", class(g, fa.FeedbackType), fmt.Sprintf("tables disagree: Perl %s (%s), Go %s (%s)", class(p, fa.FeedbackType), p.reason, class(g, fa.FeedbackType), g.reason)
				}
			case inPerl:
				use, src = p, "perl"
			case inGo:
				use, src = g, "go"
			}
			if src != "run" && class(use, fa.FeedbackType) != class(run, fa.FeedbackType) && note == "" {
				note = fmt.Sprintf("table says %s, the Go port's run %s (%s)", class(use, fa.FeedbackType), class(run, fa.FeedbackType), run.reason)
			}
			fmt.Printf("%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", name, i+1, strings.ToLower(fa.Recipient.Address), class(use, fa.FeedbackType), also, use.reason, src, note)
		}
	}
}

// unparsed writes the rows of a file the Go port finds no bounce in. Its
// tables may still list the file (the Perl port parses formats the Go port
// does not yet): then they are the reference, recipient unknown. A file
// neither table lists nor the run reads is "none".
func unparsed(name string, perl, gotab table) {
	listed := false
	for i := 1; ; i++ {
		k := fmt.Sprintf("%s#%d", name, i)
		p, inPerl := perl[k]
		g, inGo := gotab[k]
		if !inPerl && !inGo {
			break
		}
		listed = true
		use, src, also := p, "perl", ""
		switch {
		case inPerl && inGo:
			src = "perl+go"
			if class(p, "") != class(g, "") {
				also = class(g, "")
			}
		case inGo:
			use, src = g, "go"
		}
		fmt.Printf("%s\t%d\t\t%s\t%s\t%s\t%s\tthe Go port's run finds no bounce in it; its %s table says %s\n",
			name, i, class(use, ""), also, use.reason, src, src, use.reason)
	}
	if r, ok := byRule[name]; ok && !listed {
		fmt.Printf("%s\t1\t\t%s\t\t%s\trule\t%s\n", name, r.class, r.reason, r.why)
		return
	}
	if !listed {
		fmt.Printf("%s\t0\t\tnone\t\t\trun\tsisimai finds no bounce in it\n", name)
	}
}

// byRule lists the files no sisimai parser reads and no table lists, whose
// one diagnostic a sisimai rule nevertheless classifies word for word: the
// rule is the reference there, not "no bounce" (which only says sisimai has
// no parser for the notice's layout).
var byRule = map[string]struct{ class, reason, why string }{
	"lhost-mimecast-01.eml": {"hard", "userunknown", "no sisimai parser reads Mimecast's own notice; its rule rhost/for-microsoft.go maps Microsoft's 5.4.1 \"recipient address rejected: access denied\" to userunknown (the recipient's address doesn't exist)"},
}

func class(w want, feedbackType string) string {
	switch {
	case w.hard:
		return "hard"
	case w.reason == "feedback":
		switch strings.ToLower(feedbackType) {
		case "auth-failure", "virus", "not-spam":
			return "none"
		}
		return "complaint"
	case w.reason == "vacation":
		return "auto-reply"
	case w.reason == "delivered":
		return "none"
	}
	return "soft"
}

func readPerl(dir string) table {
	t := table{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.t"))
	for _, f := range files {
		m := testName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			continue
		}
		src, _ := os.ReadFile(f)
		text := string(src)
		if i := strings.Index(text, "$isexpected"); i >= 0 {
			text = text[i:]
		} else {
			continue
		}
		labels := perlLabel.FindAllStringSubmatchIndex(text, -1)
		for li, l := range labels {
			end := len(text)
			if li+1 < len(labels) {
				end = labels[li+1][0]
			}
			label, _ := strconv.Atoi(text[l[2]:l[3]])
			for i, tu := range perlTuple.FindAllStringSubmatch(text[l[1]:end], -1) {
				k := fmt.Sprintf("%s-%02d.eml#%d", m[1], label, i+1)
				t[k] = want{tu[1], tu[3], tu[4] == "1"}
			}
		}
	}
	return t
}

func readGo(dir string) table {
	t := table{}
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		m := testName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			continue
		}
		src, _ := os.ReadFile(f)
		text := string(src)
		if i := strings.Index(text, "secretlist"); i >= 0 {
			text = text[:i] // the private set is not public
		}
		for _, tu := range goTuple.FindAllStringSubmatch(text, -1) {
			label, _ := strconv.Atoi(tu[1])
			k := fmt.Sprintf("%s-%02d.eml#%s", m[1], label, tu[2])
			t[k] = want{tu[3], tu[5], tu[6] == "true"}
		}
	}
	return t
}
