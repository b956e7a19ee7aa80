package deploy_test

import (
	"bytes"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// root is the repository, seen from this package's directory (go test runs
// tests there).
const root = ".."

// composeFile is the part of the Compose specification that reftrail's
// docker-compose.yml uses. Keys outside it fail the test unless they are x-
// extensions, so a misspelt key (say "enviroment") cannot silently drop a
// service's settings; a key Compose has and this test lacks must be added here.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	// Extensions holds the top-level x- keys, which carry the YAML anchors.
	Extensions map[string]any `yaml:",inline"`
}

type composeService struct {
	Image           string         `yaml:"image"`
	Build           *composeBuild  `yaml:"build"`
	Restart         string         `yaml:"restart"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	DependsOn       dependsOn      `yaml:"depends_on"`
	Environment     environment    `yaml:"environment"`
	Ulimits         map[string]any `yaml:"ulimits"`
	Volumes         []string       `yaml:"volumes"`
	Ports           []string       `yaml:"ports"`
	Healthcheck     *healthcheck   `yaml:"healthcheck"`
	// Profiles start a service only when one of them is asked for
	// (`docker compose --profile notify up`).
	Profiles []string `yaml:"profiles"`
	// Extensions holds x- keys; any other key here is one this test does not
	// know, most likely a misspelt one.
	Extensions map[string]any `yaml:",inline"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
	Target     string `yaml:"target"`
}

// UnmarshalYAML accepts the short form, `build: <context>`.
func (b *composeBuild) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain composeBuild
	return n.Decode((*plain)(b))
}

// dependsOn maps each dependency to its condition.
type dependsOn map[string]string

// UnmarshalYAML accepts a list of names (condition service_started) and the
// long form with conditions.
func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = "service_started"
		}
		return nil
	}
	var long map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&long); err != nil {
		return err
	}
	for name, dep := range long {
		(*d)[name] = orDefault(dep.Condition, "service_started")
	}
	return nil
}

// environment maps each variable to its value as written, before Compose's
// ${...} interpolation.
type environment map[string]string

// UnmarshalYAML accepts a mapping (with YAML merge keys) and a list of
// NAME=value items.
func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	if n.Kind == yaml.SequenceNode {
		var items []string
		if err := n.Decode(&items); err != nil {
			return err
		}
		for _, item := range items {
			name, value, _ := strings.Cut(item, "=")
			(*e)[name] = value
		}
		return nil
	}
	var m map[string]*string
	if err := n.Decode(&m); err != nil {
		return err
	}
	for name, value := range m {
		if value == nil {
			// NAME with no value: Compose passes the host's variable through.
			(*e)[name] = "${" + name + "}"
			continue
		}
		(*e)[name] = *value
	}
	return nil
}

type healthcheck struct {
	Test        command `yaml:"test"`
	Interval    string  `yaml:"interval"`
	Timeout     string  `yaml:"timeout"`
	Retries     int     `yaml:"retries"`
	StartPeriod string  `yaml:"start_period"`
}

// command is a health check test in its list form; a plain string is Compose's
// shorthand for CMD-SHELL.
type command []string

func (c *command) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = command{"CMD-SHELL", n.Value}
		return nil
	}
	return n.Decode((*[]string)(c))
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// composeOverrides are the example files meant to be added to
// docker-compose.yml with -f; loadCompose merges them in, so every test checks
// their services too, together with the base file's (unique ports, say).
var composeOverrides = []string{"docs/examples/compose.scale.yml"}

// loadCompose reads docker-compose.yml with composeOverrides merged in. An
// override may only add services: merging keys into a base service is
// Compose's business, which this test does not repeat.
func loadCompose(t *testing.T) composeFile {
	t.Helper()
	f := parseCompose(t, "docker-compose.yml")
	if len(f.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	for _, path := range composeOverrides {
		o := parseCompose(t, path)
		for _, name := range sortedKeys(o.Services) {
			if _, ok := f.Services[name]; ok {
				t.Fatalf("%s overrides service %s of docker-compose.yml; this test only merges new services", path, name)
			}
			f.Services[name] = o.Services[name]
		}
		for _, name := range sortedKeys(o.Volumes) {
			f.Volumes[name] = o.Volumes[name]
		}
	}
	return f
}

func parseCompose(t *testing.T, path string) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // for nested keys, such as a healthcheck's
	var f composeFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	checkExtensions(t, path+", top level", f.Extensions)
	for _, name := range sortedKeys(f.Services) {
		checkExtensions(t, path+", service "+name, f.Services[name].Extensions)
	}
	return f
}

func checkExtensions(t *testing.T, where string, keys map[string]any) {
	t.Helper()
	for _, key := range sortedKeys(keys) {
		if !strings.HasPrefix(key, "x-") {
			t.Errorf("%s: unknown key %q (add it to composeService if Compose has it)", where, key)
		}
	}
}

// ownServices returns the services compose builds from this repository, by
// name, with their Go package directory: the build target names it.
func ownServices(t *testing.T, f composeFile) map[string]string {
	t.Helper()
	own := map[string]string{}
	for name, s := range f.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Target == "" {
			t.Errorf("service %s: build has no target; the Dockerfile has one target per service", name)
			continue
		}
		own[name] = s.Build.Target
	}
	if len(own) == 0 {
		t.Fatal("docker-compose.yml builds no service")
	}
	return own
}

// TestComposeEnvironment checks each service built here against its Go code:
// compose sets only variables the service reads (a misspelt or stale name
// would be silently ignored, leaving a default in force) and every variable
// it requires, and addresses of other containers name compose services.
func TestComposeEnvironment(t *testing.T) {
	f := loadCompose(t)
	own := ownServices(t, f)
	for _, name := range sortedKeys(own) {
		dir := own[name]
		t.Run(name, func(t *testing.T) {
			env := f.Services[name].Environment
			read := settingsRead(t, dir)
			for _, v := range sortedKeys(env) {
				if _, ok := read[v]; !ok {
					t.Errorf("environment sets %s, which %s does not read (it reads %s)", v, dir, strings.Join(sortedKeys(read), ", "))
				}
			}
			for _, v := range sortedKeys(read) {
				if read[v] && strings.TrimSpace(env[v]) == "" {
					t.Errorf("environment does not set %s, which %s requires", v, dir)
				}
			}
			for _, v := range sortedKeys(env) {
				for _, host := range hostsIn(env[v]) {
					if _, ok := f.Services[host]; ok {
						continue
					}
					if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
						t.Errorf("%s=%s: in a container, %s is the container itself; name a compose service", v, env[v], host)
					} else if ip == nil {
						t.Errorf("%s=%s: %s is not a compose service", v, env[v], host)
					}
				}
			}
		})
	}
}

// hostsIn returns the hosts a setting's value dials: URLs and comma-separated
// host:port lists. Values still to be interpolated are left out.
func hostsIn(value string) []string {
	if strings.Contains(value, "${") {
		return nil
	}
	var hosts []string
	for item := range strings.SplitSeq(value, ",") {
		item = strings.TrimSpace(item)
		if u, err := url.Parse(item); err == nil && u.Scheme != "" && u.Host != "" {
			hosts = append(hosts, u.Hostname())
			continue
		}
		if host, _, err := net.SplitHostPort(item); err == nil && host != "" {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// TestComposeBuild checks what each build refers to: the context, the
// Dockerfile, a stage named by the target, and the Go package that stage's
// binary is built from.
func TestComposeBuild(t *testing.T) {
	f := loadCompose(t)
	own := ownServices(t, f)
	for _, name := range sortedKeys(own) {
		dir := own[name]
		t.Run(name, func(t *testing.T) {
			b := f.Services[name].Build
			ctx := filepath.Join(root, b.Context)
			if fi, err := os.Stat(ctx); err != nil || !fi.IsDir() {
				t.Fatalf("build context %s: not a directory (%v)", b.Context, err)
			}
			dockerfile := filepath.Join(ctx, orDefault(b.Dockerfile, "Dockerfile"))
			stages, built := readDockerfile(t, dockerfile)
			if !stages[b.Target] {
				t.Errorf("%s has no stage %q (stages: %s)", dockerfile, b.Target, strings.Join(sortedKeys(stages), ", "))
			}
			if !built[dir] {
				t.Errorf("%s does not go build ./%s (builds %s)", dockerfile, dir, strings.Join(sortedKeys(built), ", "))
			}
			for pkg := range built {
				if p := importPackage(t, pkg); p.Name != "main" {
					t.Errorf("%s builds ./%s, which is package %s, not a command", dockerfile, pkg, p.Name)
				}
			}
		})
	}
}

// readDockerfile returns the stage names (FROM ... AS name) of a Dockerfile
// and the package directories its `go build` commands compile.
func readDockerfile(t *testing.T, path string) (stages, built map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var instructions []string
	var cur strings.Builder
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		instructions = append(instructions, cur.String())
		cur.Reset()
	}
	stages, built = map[string]bool{}, map[string]bool{}
	for _, in := range instructions {
		fields := strings.Fields(in)
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			if n := len(fields); n >= 4 && strings.EqualFold(fields[n-2], "AS") {
				stages[fields[n-1]] = true
			}
		case "RUN":
			if !strings.Contains(in, "go build") {
				continue
			}
			for _, f := range fields {
				if strings.HasPrefix(f, "./") {
					built[filepath.ToSlash(filepath.Clean(f))] = true
				}
			}
		}
	}
	return stages, built
}

// TestComposeImages checks that every image is pinned: a tag other than
// latest, or a digest, so `docker compose up` next month runs what was tested.
func TestComposeImages(t *testing.T) {
	f := loadCompose(t)
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		if s.Image == "" {
			if s.Build == nil {
				t.Errorf("service %s: neither image nor build", name)
			}
			continue
		}
		if strings.Contains(s.Image, "@sha256:") {
			continue
		}
		repo := s.Image[strings.LastIndex(s.Image, "/")+1:]
		_, tag, ok := strings.Cut(repo, ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("service %s: image %s has no explicit tag", name, s.Image)
		}
	}
}

// TestComposeServices checks what every service needs to run unattended: a
// restart policy, a health check, and dependencies that exist (and can report
// healthy when waited for).
func TestComposeServices(t *testing.T) {
	f := loadCompose(t)
	for _, name := range sortedKeys(f.Services) {
		t.Run(name, func(t *testing.T) {
			s := f.Services[name]
			if !slices.Contains([]string{"always", "unless-stopped", "on-failure"}, s.Restart) {
				t.Errorf("restart = %q, want always, unless-stopped or on-failure", s.Restart)
			}
			switch h := s.Healthcheck; {
			case h == nil:
				t.Error("no healthcheck")
			case len(h.Test) < 2 || !slices.Contains([]string{"CMD", "CMD-SHELL"}, h.Test[0]) || strings.TrimSpace(h.Test[1]) == "":
				t.Errorf("healthcheck test %q: want [CMD, program, args...] or [CMD-SHELL, command]", h.Test)
			}
			for _, dep := range sortedKeys(s.DependsOn) {
				target, ok := f.Services[dep]
				switch cond := s.DependsOn[dep]; {
				case !ok:
					t.Errorf("depends on %s, which is not a service", dep)
				case dep == name:
					t.Error("depends on itself")
				case cond == "service_healthy" && target.Healthcheck == nil:
					t.Errorf("waits for %s to be healthy, but %s has no healthcheck", dep, dep)
				case !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, cond):
					t.Errorf("depends on %s with unknown condition %q", dep, cond)
				}
			}
		})
	}
}

// TestComposeProbes checks that each service built here is probed, and
// published, on a port it listens on: the port of an *_ADDR setting such as
// INGEST_ADDR=:8080 or METRICS_ADDR=:9101.
func TestComposeProbes(t *testing.T) {
	f := loadCompose(t)
	for _, name := range sortedKeys(ownServices(t, f)) {
		t.Run(name, func(t *testing.T) {
			s := f.Services[name]
			listen := map[string]bool{}
			for v, value := range s.Environment {
				if !strings.HasSuffix(v, "_ADDR") {
					continue
				}
				if host, port, err := net.SplitHostPort(value); err == nil && (host == "" || host == "0.0.0.0") {
					listen[port] = true
				}
			}
			if len(listen) == 0 {
				t.Fatal("sets no listen address (an *_ADDR of the form :port), so its probe and ports cannot be checked")
			}
			var test command
			if s.Healthcheck != nil {
				test = s.Healthcheck.Test
			}
			if len(test) != 3 || test[0] != "CMD" || test[1] != "/probe" {
				t.Fatalf("healthcheck test = %q, want [CMD, /probe, http://127.0.0.1:<port>/readyz]", test)
			}
			u, err := url.Parse(test[2])
			if err != nil || u.Hostname() != "127.0.0.1" || !listen[u.Port()] || u.Path != "/readyz" {
				t.Errorf("probe URL %s: want http://127.0.0.1:<port>/readyz with a port it listens on (%s)", test[2], strings.Join(sortedKeys(listen), ", "))
			}
			// /readyz lives on METRICS_ADDR wherever a service sets it
			// (ingest's public port has no /readyz).
			if _, port, err := net.SplitHostPort(s.Environment["METRICS_ADDR"]); err == nil && u != nil && u.Port() != port {
				t.Errorf("probe URL %s: want the port of METRICS_ADDR (%s), which serves /readyz", test[2], port)
			}
			for _, p := range s.Ports {
				if _, container := parsePort(t, p); !listen[container] {
					t.Errorf("publishes %s, but listens on %s", p, strings.Join(sortedKeys(listen), ", "))
				}
			}
		})
	}
}

// TestComposePorts checks that no two services publish the same host port,
// which `docker compose up` would discover only when the second one starts.
func TestComposePorts(t *testing.T) {
	f := loadCompose(t)
	owner := map[string]string{}
	for _, name := range sortedKeys(f.Services) {
		for _, p := range f.Services[name].Ports {
			host, _ := parsePort(t, p)
			if host == "" {
				continue // an ephemeral host port
			}
			if other, ok := owner[host]; ok {
				t.Errorf("%s and %s both publish %s", other, name, host)
			}
			owner[host] = name
		}
	}
}

// parsePort splits a short-syntax port, [ip:]host:container[/protocol], into
// the host side (ip, port and protocol, empty when Docker picks the port) and
// the container port.
func parsePort(t *testing.T, p string) (host, container string) {
	t.Helper()
	spec, proto, _ := strings.Cut(p, "/")
	proto = orDefault(proto, "tcp")
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		return "", parts[0]
	case 2:
		return "0.0.0.0:" + parts[0] + "/" + proto, parts[1]
	case 3:
		return orDefault(parts[0], "0.0.0.0") + ":" + parts[1] + "/" + proto, parts[2]
	}
	t.Fatalf("port %q: want [ip:]host:container[/protocol] (the test reads the short syntax only)", p)
	return "", ""
}

// TestComposeVolumes checks mounts: a bind-mounted path exists in the
// repository, a named volume is declared, and a declared volume is used.
func TestComposeVolumes(t *testing.T) {
	f := loadCompose(t)
	used := map[string]bool{}
	for _, name := range sortedKeys(f.Services) {
		for _, v := range f.Services[name].Volumes {
			src, _ := parseMount(t, v)
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
				continue
			}
			used[src] = true
			if _, ok := f.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which is not declared under volumes", name, src)
			}
		}
	}
	for v := range f.Volumes {
		if !used[v] {
			t.Errorf("volume %s is declared but no service mounts it", v)
		}
	}
}

// parseMount splits a short-syntax volume, source:target[:mode].
func parseMount(t *testing.T, v string) (source, target string) {
	t.Helper()
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		t.Fatalf("volume %q: want source:target[:mode] (the test reads the short syntax only)", v)
	}
	return parts[0], parts[1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestComposeConsoleToken checks that compose never starts the console open
// to the network without a token: it listens on every interface of its
// container, so CONSOLE_TOKEN must come from the user, and compose must stop
// when it is missing rather than start a console anyone can use.
func TestComposeConsoleToken(t *testing.T) {
	f := loadCompose(t)
	s, ok := f.Services["console"]
	if !ok {
		t.Fatal("docker-compose.yml has no console service")
	}
	if host, _, err := net.SplitHostPort(s.Environment["CONSOLE_ADDR"]); err != nil || host != "" {
		t.Errorf("CONSOLE_ADDR = %q, want :port (reachable from the host's published port)", s.Environment["CONSOLE_ADDR"])
	}
	if token := s.Environment["CONSOLE_TOKEN"]; !strings.HasPrefix(token, "${CONSOLE_TOKEN:?") {
		t.Errorf("CONSOLE_TOKEN = %q, want ${CONSOLE_TOKEN:?...}: required from the user, no default", token)
	}
	for _, p := range s.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("console publishes %s, want 127.0.0.1 only (a TLS proxy goes in front)", p)
		}
	}
}

// TestComposeInstanceIDs checks that every enrich container has a fixed
// ENRICH_TRANSACTIONAL_ID of its own (the default derives from the hostname,
// the container id, which changes when the container is recreated, so a new
// container would not fence its predecessor's transaction), and that no two
// sinks share a SINK_INSTANCE_ID: two members with one static id fence each
// other.
func TestComposeInstanceIDs(t *testing.T) {
	f := loadCompose(t)
	own := ownServices(t, f)
	owner := map[string]string{} // "variable=value" -> service
	for _, name := range sortedKeys(own) {
		env := f.Services[name].Environment
		if own[name] == "enrich" && env["ENRICH_TRANSACTIONAL_ID"] == "" {
			t.Errorf("service %s: no ENRICH_TRANSACTIONAL_ID", name)
		}
		for _, v := range []string{"ENRICH_TRANSACTIONAL_ID", "SINK_INSTANCE_ID"} {
			if env[v] == "" {
				continue
			}
			key := v + "=" + env[v]
			if other, ok := owner[key]; ok {
				t.Errorf("services %s and %s share %s", other, name, key)
			}
			owner[key] = name
		}
	}
}
