package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIMatchesRoutes checks web/openapi.yaml against routes.go: every
// API route is described, with its method, and nothing else is.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			pattern, _ := strconv.Unquote(lit.Value)
			if method, path, _ := strings.Cut(pattern, " "); strings.HasPrefix(path, "/api/") {
				routes = append(routes, method+" "+path)
			}
		}
		return true
	})

	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("parsing web/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			described = append(described, strings.ToUpper(method)+" "+path)
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(described)
	if len(routes) == 0 {
		t.Fatal("found no API routes in routes.go")
	}
	if !slices.Equal(routes, described) {
		t.Errorf("routes.go has API routes\n  %s\nweb/openapi.yaml describes\n  %s", strings.Join(routes, "\n  "), strings.Join(described, "\n  "))
	}
}
