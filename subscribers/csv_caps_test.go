package subscribers

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
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
func TestImportRefusesAHugeField(t *testing.T) {
	t.Parallel()
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
