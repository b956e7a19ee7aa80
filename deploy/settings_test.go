package deploy_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// settingNameRE is the shape of reftrail's environment variable names. It tells
// a setting from other string arguments of methods that share a name with
// config.Env's readers (flag.FlagSet.String, for one).
var settingNameRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// settingsRead returns the environment variables that the command in dir (a
// directory of the repository, such as "sink") reads through config.Env, in
// its own package and in every package of this module it imports, with true
// for those it requires (Env.Required, even when only under a condition).
//
// It reads the source, not the types: a read is a call of a method named like
// one of *config.Env's (String, Int, Required, ...), or of getenv, whose first
// argument is a string literal shaped like a setting name. reftrail always
// names a setting by a literal there; a name built at run time would be missed.
func settingsRead(t *testing.T, dir string) map[string]bool {
	t.Helper()
	readers := envReaders(t)
	module := modulePath(t)
	read := map[string]bool{}
	seen := map[string]bool{}
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		pkg := importPackage(t, d)
		for _, imp := range pkg.Imports {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				queue = append(queue, rel)
			}
		}
		for _, f := range parseFiles(t, pkg) {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				reader := readerName(call.Fun, readers)
				if reader == "" {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if name, err := strconv.Unquote(lit.Value); err == nil && settingNameRE.MatchString(name) {
					read[name] = read[name] || reader == "Required"
				}
				return true
			})
		}
	}
	return read
}

// readerName returns the name of the function fun calls when it reads a
// setting, or "": a method named like one of readers, the getenv a service's
// run is given (sink reads CLICKHOUSE_PASSWORD so, untrimmed), or os.Getenv and
// os.LookupEnv.
func readerName(fun ast.Expr, readers map[string]bool) string {
	switch f := fun.(type) {
	case *ast.Ident:
		if f.Name == "getenv" {
			return f.Name
		}
	case *ast.SelectorExpr:
		if readers[f.Sel.Name] {
			return f.Sel.Name
		}
		if pkg, ok := f.X.(*ast.Ident); ok && pkg.Name == "os" && (f.Sel.Name == "Getenv" || f.Sel.Name == "LookupEnv") {
			return f.Sel.Name
		}
	}
	return ""
}

// envReaders returns the names of *config.Env's methods that read a setting:
// the exported ones whose first parameter is the variable's name. Fail also
// takes a name, but reports on a setting read elsewhere.
func envReaders(t *testing.T) map[string]bool {
	t.Helper()
	readers := map[string]bool{}
	for _, f := range parseFiles(t, importPackage(t, "internal/config")) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || !fd.Name.IsExported() || fd.Name.Name == "Fail" {
				continue
			}
			star, ok := fd.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			if recv, ok := star.X.(*ast.Ident); !ok || recv.Name != "Env" {
				continue
			}
			params := fd.Type.Params.List
			if len(params) == 0 || len(params[0].Names) == 0 || params[0].Names[0].Name != "name" {
				continue
			}
			if typ, ok := params[0].Type.(*ast.Ident); ok && typ.Name == "string" {
				readers[fd.Name.Name] = true
			}
		}
	}
	if !readers["Required"] || !readers["String"] {
		t.Fatalf("internal/config: found readers %v, want at least Required and String", readers)
	}
	return readers
}

// importPackage reads the package in dir (relative to the repository) as the
// Dockerfile compiles it: for Linux, without cgo, test files aside.
func importPackage(t *testing.T, dir string) *build.Package {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.CgoEnabled = "linux", false
	pkg, err := ctx.ImportDir(filepath.Join(root, dir), 0)
	if err != nil {
		t.Fatalf("reading Go package ./%s: %v", dir, err)
	}
	return pkg
}

func parseFiles(t *testing.T, pkg *build.Package) []*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// modulePath returns the module path declared in go.mod.
func modulePath(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(path), `"`)
		}
	}
	t.Fatal("go.mod: no module line")
	return ""
}

// TestSettingsRead pins the extraction on ingest, whose settings are known, so
// that a change to config.Env or to the way services read it cannot leave the
// compose checks comparing against nothing.
func TestSettingsRead(t *testing.T) {
	read := settingsRead(t, "ingest")
	want := map[string]bool{
		"META_APP_SECRETS":     true, // required when the list is empty
		"META_VERIFY_TOKEN":    true,
		"RAW_TOPIC":            false,
		"INGEST_ADDR":          false,
		"PRODUCE_TIMEOUT":      false,
		"KAFKA_BROKERS":        false, // internal/kafka
		"KAFKA_SASL_MECHANISM": false,
		"LOG_LEVEL":            false, // internal/obs
	}
	for name, required := range want {
		got, ok := read[name]
		switch {
		case !ok:
			t.Errorf("ingest: %s not found among the settings read: %v", name, read)
		case got != required:
			t.Errorf("ingest: %s required = %t, want %t", name, got, required)
		}
	}
	if _, ok := read["ENRICH_TRANSACTIONAL_ID"]; ok {
		t.Error("ingest: reads ENRICH_TRANSACTIONAL_ID, which only enrich reads")
	}
}
