package deploy_test

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const usersScript = "deploy/clickhouse/initdb/10-users.sh"

// TestClickHouseUsers checks, without Docker, that compose gives each client
// of ClickHouse its own user with the least it needs: grafana a read-only user
// that cannot read dead_letters.payload, sink another; that the clickhouse
// service runs the script creating them, with every variable it reads; and
// that the passwords the clients use are those the users are created with.
func TestClickHouseUsers(t *testing.T) {
	f := loadCompose(t)
	ch := f.Services["clickhouse"]
	b, err := os.ReadFile(filepath.Join(root, usersScript))
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)

	mounted := false
	for _, v := range ch.Volumes {
		if src, target := parseMount(t, v); path.Clean(src) == path.Dir(usersScript) && target == "/docker-entrypoint-initdb.d" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("clickhouse does not mount ./%s at /docker-entrypoint-initdb.d", path.Dir(usersScript))
	}
	if ch.Environment["CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"] != "1" {
		t.Error("clickhouse's administrator cannot create users: CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT is not 1")
	}
	for _, m := range regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(script, -1) {
		if _, ok := ch.Environment[m[1]]; !ok {
			t.Errorf("%s reads $%s, which clickhouse's environment does not set", usersScript, m[1])
		}
	}

	grafana, sink, console := f.Services["grafana"].Environment, f.Services["sink"].Environment, f.Services["console"].Environment
	if grafana["CLICKHOUSE_USERNAME"] == sink["CLICKHOUSE_USERNAME"] {
		t.Fatalf("grafana reads ClickHouse as sink's user %q, which may write", sink["CLICKHOUSE_USERNAME"])
	}
	for _, client := range []map[string]string{grafana, sink, console} {
		user := client["CLICKHOUSE_USERNAME"]
		create := regexp.MustCompile(`CREATE USER IF NOT EXISTS ` + regexp.QuoteMeta(user) + ` IDENTIFIED WITH sha256_password BY \$\(quote "\$([A-Z_]+)"\)`).FindStringSubmatch(script)
		if create == nil {
			t.Errorf("%s does not create user %s", usersScript, user)
			continue
		}
		if got, want := ch.Environment[create[1]], client["CLICKHOUSE_PASSWORD"]; got != want {
			t.Errorf("user %s is created with %s=%s, its client logs in with %s", user, create[1], got, want)
		}
	}

	dashboards := regexp.QuoteMeta(grafana["CLICKHOUSE_USERNAME"])
	for _, grant := range regexp.MustCompile(`(?m)^GRANT (.*) ON (\S+) TO `+dashboards+`;$`).FindAllStringSubmatch(script, -1) {
		if grant[1] != "SELECT" {
			t.Errorf("the dashboards user is granted %s on %s: it must only read", grant[1], grant[2])
		}
	}
	if !regexp.MustCompile(`(?m)^REVOKE SELECT\(payload[^)]*\) ON reftrail\.dead_letters FROM ` + dashboards + `;$`).MatchString(script) {
		t.Errorf("%s does not revoke dead_letters.payload from the dashboards user", usersScript)
	}
	if strings.Contains(script, "GRANT ALL") {
		t.Errorf("%s grants ALL", usersScript)
	}
}
