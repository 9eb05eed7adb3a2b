package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Tables lists the tables of db, without SQLite's own and River's (its jobs
// are not moved: the bot queues a job again for every unfinished delivery
// when it starts), nor SQLite's virtual tables and the tables under them
// (the supporters' search index, which its triggers rebuild as rows come in).
func Tables(ctx context.Context, db *sql.DB) ([]string, error) {
	q := `SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'`
	if DialectOf(db) == Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		if strings.HasPrefix(name, "river_") {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// Count returns how many rows table has.
func Count(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting %s: %w", table, err)
	}
	return n, nil
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// CopyTable copies every row of table from one database into the same table
// of another, inside tx (of the target), converting what the two store
// differently (SQLite's 0/1 booleans, text timestamps). It returns how
// many rows it copied.
func CopyTable(ctx context.Context, from *sql.DB, to *sql.DB, tx *sql.Tx, table string) (int64, error) {
	types, err := columnTypes(ctx, to, table)
	if err != nil {
		return 0, err
	}
	rows, err := from.QueryContext(ctx, `SELECT * FROM `+quote(table))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", table, err)
	}
	names := make([]string, len(cols))
	params := make([]string, len(cols))
	for i, c := range cols {
		if _, ok := types[strings.ToLower(c)]; !ok {
			return 0, fmt.Errorf("copying %s: the target has no column %s (it is not at the same schema version)", table, c)
		}
		names[i], params[i] = quote(c), fmt.Sprintf("$%d", i+1)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+quote(table)+` (`+strings.Join(names, ", ")+`) VALUES (`+strings.Join(params, ", ")+`)`)
	if err != nil {
		return 0, fmt.Errorf("copying %s: %w", table, err)
	}
	defer stmt.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("reading %s: %w", table, err)
		}
		for i, c := range cols {
			if vals[i], err = convert(vals[i], types[strings.ToLower(c)]); err != nil {
				return n, fmt.Errorf("copying %s.%s: %w", table, c, err)
			}
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("copying a row of %s: %w", table, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("reading %s: %w", table, err)
	}
	return n, nil
}

// columnTypes maps table's columns to their type in db, lower case
// ("boolean", "timestamp without time zone", "integer"...).
func columnTypes(ctx context.Context, db *sql.DB, table string) (map[string]string, error) {
	q := `SELECT name, type FROM pragma_table_info($1)`
	if DialectOf(db) == Postgres {
		q = `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
	}
	rows, err := db.QueryContext(ctx, q, table)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("reading the columns of %s: %w", table, err)
		}
		out[strings.ToLower(name)] = strings.ToLower(typ)
	}
	if len(out) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("the target has no table %s (it is not at the same schema version)", table)
	}
	return out, rows.Err()
}

// convert makes a value read from one database fit a column of type typ in
// the other.
func convert(v any, typ string) (any, error) {
	switch {
	case v == nil:
		return nil, nil
	case typ == "boolean":
		switch b := v.(type) {
		case int64:
			return b != 0, nil
		case string:
			return b == "1" || strings.EqualFold(b, "true"), nil
		}
	case strings.HasPrefix(typ, "timestamp"):
		switch t := v.(type) {
		case time.Time:
			return t.UTC(), nil
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
				if p, err := time.Parse(layout, t); err == nil {
					return p.UTC(), nil
				}
			}
			return nil, fmt.Errorf("%q is not a time", t)
		}
	case typ == "text":
		if b, ok := v.([]byte); ok {
			return string(b), nil
		}
	}
	return v, nil
}

// CopyIdentities carries over where each id sequence stands (SQLite's
// AUTOINCREMENT, PostgreSQL's identity columns), so that the target never
// hands out an id the source already used, even one whose row was erased
// since: the newsletter's ledger is keyed by subscriber id.
func CopyIdentities(ctx context.Context, from, to *sql.DB, tx *sql.Tx) error {
	cols, err := identityColumns(ctx, to)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		if cols, err = identityColumns(ctx, from); err != nil {
			return err
		}
	}
	for _, c := range cols {
		n, err := highWater(ctx, from, c[0], c[1])
		if err != nil {
			return err
		}
		if err := setHighWater(ctx, to, tx, c[0], c[1], n); err != nil {
			return err
		}
	}
	return nil
}

// identityColumns lists (table, column) of the id sequences of db.
func identityColumns(ctx context.Context, db *sql.DB) ([][2]string, error) {
	q := `SELECT name, 'id' FROM sqlite_sequence`
	if DialectOf(db) == Postgres {
		q = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		if DialectOf(db) == SQLite && strings.Contains(err.Error(), "no such table") {
			return nil, nil
		}
		return nil, fmt.Errorf("listing id sequences: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		out = append(out, [2]string{t, c})
	}
	return out, rows.Err()
}

// highWater is the largest id table's sequence has handed out.
func highWater(ctx context.Context, db *sql.DB, table, col string) (int64, error) {
	var max, seq sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(`+quote(col)+`) FROM `+quote(table)).Scan(&max); err != nil {
		return 0, fmt.Errorf("reading the ids of %s: %w", table, err)
	}
	var err error
	if DialectOf(db) == Postgres {
		err = db.QueryRowContext(ctx, `SELECT CASE WHEN is_called THEN last_value END FROM `+postgresSequence(ctx, db, table, col)).Scan(&seq)
	} else {
		err = db.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = $1`, table).Scan(&seq)
		if err == sql.ErrNoRows {
			err = nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("reading the id sequence of %s: %w", table, err)
	}
	return maxInt(max.Int64, seq.Int64), nil
}

func postgresSequence(ctx context.Context, db *sql.DB, table, col string) string {
	var name string
	_ = db.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, table, col).Scan(&name)
	return name
}

func setHighWater(ctx context.Context, db *sql.DB, tx *sql.Tx, table, col string, n int64) error {
	var err error
	if DialectOf(db) == Postgres {
		_, err = tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST($3, COALESCE((SELECT MAX(`+quote(col)+`) FROM `+quote(table)+`), 0)) + 1, false)`, table, col, n)
	} else {
		if _, err = tx.ExecContext(ctx, `DELETE FROM sqlite_sequence WHERE name = $1`, table); err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES ($1, MAX($2, COALESCE((SELECT MAX(`+quote(col)+`) FROM `+quote(table)+`), 0)))`, table, n)
		}
	}
	if err != nil {
		return fmt.Errorf("moving the ids of %s on: %w", table, err)
	}
	return nil
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
