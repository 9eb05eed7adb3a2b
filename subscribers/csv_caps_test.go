package subscribers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// endless is a field of n bytes of "a", made as it is read.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), e.n)
	for i := range k {
		p[i] = 'a'
	}
	e.n -= k
	return k, nil
}

// allocatedBy returns the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestImportRefusesAHugeField feeds a 150 MB field, as in issue 18: the
// import stops at that row with an error that says why and where, the rows
// before it are in, and memory stays that of a row, not of the file.
// Not parallel: it measures the process's allocations.
func TestImportRefusesAHugeField(t *testing.T) {
	s, _ := openTest(t, "sqlite")
	ctx := context.Background()
	file := io.MultiReader(strings.NewReader("email,name\nann@example.org,Ann\nbob@example.org,\""),
		&endless{n: 150 << 20}, strings.NewReader("\"\ncy@example.org,Cy\n"))
	var rep ImportReport
	var err error
	alloc := allocatedBy(func() { rep, err = s.Import(ctx, file, ImportOptions{Source: "import:huge.csv"}) })
	if !errors.Is(err, ErrRowTooLong) || !strings.Contains(err.Error(), "after line 2") || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("want the row after line 2 refused as longer than 1 MiB, got %v", err)
	}
	if rep.Added != 1 {
		t.Errorf("the row before the huge one is added, and said to be: %+v", rep)
	}
	t.Logf("a 150 MB field: %.1f MiB allocated", float64(alloc)/(1<<20))
	if alloc > 16<<20 {
		t.Errorf("the import allocated %d MiB for a 150 MB field; a row's cap is 1 MiB", alloc>>20)
	}
}

// TestImportRejectsALongField rejects a row whose field is over the field
// cap and carries on with the next.
func TestImportRejectsALongField(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t, "sqlite")
	long := strings.Repeat("x", MaxImportField+1)
	rep, err := s.Import(context.Background(), strings.NewReader("email,name,notes\nann@example.org,Ann,"+long+"\nbob@example.org,Bob,\n"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 2 || !strings.Contains(rep.Rejected[0].Reason, "column 3") || !strings.Contains(rep.Rejected[0].Reason, "64 KiB") {
		t.Fatalf("report %+v", rep)
	}
}

// rowsReader makes a CSV as it is read: good rows with a 60 KiB column
// (ignored), then bad rows.
type rowsReader struct {
	good, bad, i int
	buf          []byte
}

func (r *rowsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case r.i == 0:
			r.buf = []byte("email,name,notes\n")
		case r.i <= r.good:
			r.buf = fmt.Appendf(nil, "p%d@example.org,P %d,%s\n", r.i, r.i, strings.Repeat("n", 60<<10))
		case r.i <= r.good+r.bad:
			r.buf = fmt.Appendf(nil, "bad%d,,\n", r.i)
		default:
			return 0, io.EOF
		}
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// liveHeapDuring returns the most memory in use (after a collection) while
// f runs, sampled every 20 ms.
func liveHeapDuring(f func()) uint64 {
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-sampled
	return peak
}

// TestImportMemoryIsARowsNotTheFiles: 36 MiB of rows near the caps cost
// the memory of a batch at a time, not of every row read, and a file of bad
// rows keeps only the rejected rows the caller asks for. Not parallel: it
// measures the process's heap.
func TestImportMemoryIsARowsNotTheFiles(t *testing.T) {
	s, _ := openTest(t, "sqlite")
	var rep ImportReport
	var err error
	peak := liveHeapDuring(func() {
		rep, err = s.Import(context.Background(), &rowsReader{good: 600, bad: 50_000}, ImportOptions{KeepRejected: 100})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 600 || len(rep.Rejected) != 100 || rep.MoreRejected != 50_000-100 {
		t.Fatalf("added %d, kept %d rejected, %d more", rep.Added, len(rep.Rejected), rep.MoreRejected)
	}
	t.Logf("36 MiB of rows: at most %.1f MiB live", float64(peak)/(1<<20))
	if peak > 16<<20 {
		t.Errorf("%d MiB live while importing 36 MiB of rows: the import keeps rows it has read", peak>>20)
	}
}
