package chstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/schemas"
)

// MigrateOptions tune Migrate. The zero value migrates a single server.
type MigrateOptions struct {
	// Cluster, when set, runs every statement ON CLUSTER Cluster and creates
	// Replicated* engines, so that one Migrate call sets up every replica. It
	// must name a cluster of the server's remote_servers configuration, and the
	// servers need ZooKeeper and the {shard} and {replica} macros. Events must be
	// sharded by participant (or not sharded) for deduplication to work: copies
	// of an event_id collapse only within one shard. Default: empty, no cluster.
	Cluster string
	// ReplicaPath is the ZooKeeper path of a replicated table, used only with
	// Cluster. {database} and {table} are filled in by Migrate; {shard} and
	// {replica} are left to the server's macros. Default:
	// "/clickhouse/tables/{shard}/{database}/{table}".
	ReplicaPath string
}

const defaultReplicaPath = "/clickhouse/tables/{shard}/{database}/{table}"

// Errors a re-run or a concurrent run of an idempotent statement may raise on
// servers whose DDL lacks IF NOT EXISTS for it (18.16 has no ADD COLUMN IF NOT
// EXISTS) or races between the existence check and the creation.
var alreadyDoneCodes = map[int32]bool{
	15: true, // DUPLICATE_COLUMN
	57: true, // TABLE_ALREADY_EXISTS
	82: true, // DATABASE_ALREADY_EXISTS
}

// columnExists reports an ADD COLUMN that a concurrent run got to first:
// 18.16 then answers ILLEGAL_COLUMN, a code it also uses for real mistakes, so
// the message decides.
func columnExists(ex *clickhouse.Exception) bool {
	return ex.Code == 44 && strings.Contains(ex.Message, "column with this name already exists")
}

// migration is one versioned DDL file of schemas/clickhouse/migrations.
type migration struct {
	version  uint32
	name     string
	checksum string // of the template, so that it does not depend on the database
	text     string
}

var (
	migrationRE = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.sql$`)
	// A statement ends with a semicolon at the end of a line.
	statementEndRE = regexp.MustCompile(`;[ \t]*(\r?\n|$)`)
)

// Migrate creates database and brings its schema to the newest version embedded
// in schemas.ClickHouse. conn may have any default database: every statement
// names database explicitly.
//
// It is safe to re-run and to run concurrently from several sink instances:
// ClickHouse has no locks, so instead every statement is idempotent (IF NOT
// EXISTS, and errors saying the object already exists count as success), and a
// migration is recorded in database.schema_migrations only after all of its
// statements succeeded. Two instances racing may both apply and record a
// migration; the records collapse (ReplacingMergeTree) and reads group by
// version. Hence the rule for new migration files: every statement must be safe
// to run twice, and a released file is never edited (its checksum is compared
// with the recorded one, and a mismatch is an error). Versions recorded by a
// newer release are ignored, so an older sink can start during a rolling deploy.
//
// With a cluster, every statement waits for every replica (ON CLUSTER, up to
// the server's distributed_ddl_task_timeout, 180 s by default), so applying a
// migration needs all replicas up; once all are recorded, Migrate only reads
// schema_migrations and starts with a replica down.
func Migrate(ctx context.Context, conn driver.Conn, database string, opts MigrateOptions) error {
	if !identRE.MatchString(database) {
		return fmt.Errorf("migrating: database name %q must match %s", database, identRE)
	}
	if opts.Cluster != "" && !identRE.MatchString(opts.Cluster) {
		return fmt.Errorf("migrating: cluster name %q must match %s", opts.Cluster, identRE)
	}
	if opts.ReplicaPath == "" {
		opts.ReplicaPath = defaultReplicaPath
	}
	migrations, err := loadMigrations(schemas.ClickHouse)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	r := renderer{database: database, opts: opts}

	// With every migration recorded there is nothing to create, and no ON
	// CLUSTER statement runs: such a statement waits for every replica, so a
	// sink restarting while one is down would hang in it.
	applied, err := appliedMigrations(ctx, conn, database)
	if err != nil || pending(migrations, applied) {
		if err := r.setup(ctx, conn); err != nil {
			return fmt.Errorf("migrating: creating schema_migrations: %w", err)
		}
		if applied, err = appliedMigrations(ctx, conn, database); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
	}
	for _, m := range migrations {
		if sum, ok := applied[m.version]; ok {
			if sum != m.checksum {
				return fmt.Errorf("migrating: migration %04d_%s was edited after it was applied (checksum %s, recorded %s): add a new migration instead", m.version, m.name, m.checksum, sum)
			}
			continue
		}
		text, err := r.render(m.name, m.text)
		if err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		if err := execAll(ctx, conn, text); err != nil {
			return fmt.Errorf("migrating: applying %04d_%s: %w", m.version, m.name, err)
		}
		if err := recordMigration(ctx, conn, database, m); err != nil {
			return fmt.Errorf("migrating: recording %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// setup creates the database and its schema_migrations table.
func (r renderer) setup(ctx context.Context, conn driver.Conn) error {
	setup, err := r.render("setup", `CREATE DATABASE IF NOT EXISTS {{.Database}}{{.OnCluster}};
CREATE TABLE IF NOT EXISTS {{.Database}}.schema_migrations{{.OnCluster}}
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime('UTC')
)
ENGINE = {{engine "ReplacingMergeTree" "schema_migrations" "applied_at"}}
ORDER BY version;
`)
	if err != nil {
		return err
	}
	return execAll(ctx, conn, setup)
}

// pending reports whether a migration is missing from applied.
func pending(migrations []migration, applied map[uint32]string) bool {
	for _, m := range migrations {
		if _, ok := applied[m.version]; !ok {
			return true
		}
	}
	return false
}

// loadMigrations reads migrations/*.sql of fsys in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	const dir = "clickhouse/migrations"
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []migration
	seen := map[uint32]string{}
	for _, e := range entries {
		match := migrationRE.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, fmt.Errorf("reading migrations: file %s is not named NNNN_name.sql", e.Name())
		}
		v, err := strconv.ParseUint(match[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("reading migrations: version of %s: %w", e.Name(), err)
		}
		if other, ok := seen[uint32(v)]; ok {
			return nil, fmt.Errorf("reading migrations: %s and %s share version %d", other, e.Name(), v)
		}
		seen[uint32(v)] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading migrations: %w", err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{version: uint32(v), name: match[2], checksum: hex.EncodeToString(sum[:]), text: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// renderer fills in the migration templates: {{.Database}}, {{.OnCluster}}
// (" ON CLUSTER name" or nothing) and {{engine "Name" "table" "args"...}}
// (Name(args), or ReplicatedName('path', '{replica}', args) with a cluster).
type renderer struct {
	database string
	opts     MigrateOptions
}

func (r renderer) render(name, text string) (string, error) {
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{"engine": r.engine}).Parse(text)
	if err != nil {
		return "", fmt.Errorf("parsing template %s: %w", name, err)
	}
	onCluster := ""
	if r.opts.Cluster != "" {
		onCluster = " ON CLUSTER " + r.opts.Cluster
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, struct{ Database, OnCluster string }{r.database, onCluster})
	if err != nil {
		return "", fmt.Errorf("rendering template %s: %w", name, err)
	}
	return b.String(), nil
}

func (r renderer) engine(name, table string, args ...string) string {
	if r.opts.Cluster == "" {
		return name + "(" + strings.Join(args, ", ") + ")"
	}
	p := strings.NewReplacer("{database}", r.database, "{table}", table).Replace(r.opts.ReplicaPath)
	args = append([]string{quoteString(p), "'{replica}'"}, args...)
	return "Replicated" + name + "(" + strings.Join(args, ", ") + ")"
}

// execAll runs each statement of text in order.
func execAll(ctx context.Context, conn driver.Conn, text string) error {
	for _, stmt := range splitStatements(text) {
		err := conn.Exec(ctx, stmt)
		var ex *clickhouse.Exception
		if errors.As(err, &ex) && (alreadyDoneCodes[ex.Code] || columnExists(ex)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("executing %q: %w", firstLine(stmt), err)
		}
	}
	return nil
}

// splitStatements cuts text at semicolons that end a line, dropping pieces
// that hold only comments.
func splitStatements(text string) []string {
	var stmts []string
	for _, s := range statementEndRE.Split(text, -1) {
		if hasCode(s) {
			stmts = append(stmts, strings.TrimSpace(s))
		}
	}
	return stmts
}

func hasCode(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return true
		}
	}
	return false
}

// firstLine names a statement in errors: its first line that is not a comment.
func firstLine(stmt string) string {
	for _, line := range strings.Split(stmt, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "--") {
			return line
		}
	}
	return ""
}

func appliedMigrations(ctx context.Context, conn driver.Conn, database string) (map[uint32]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, argMax(checksum, applied_at) FROM "+database+".schema_migrations GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]string{}
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("reading applied migrations: %w", err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	return applied, nil
}

func recordMigration(ctx context.Context, conn driver.Conn, database string, m migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+database+".schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer batch.Close()
	if err := batch.Append(m.version, m.name, m.checksum, time.Now().UTC()); err != nil {
		return fmt.Errorf("appending: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	return nil
}
