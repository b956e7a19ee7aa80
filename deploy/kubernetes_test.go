package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// kubernetesExample is the Kubernetes manifest of docs/sizing.md.
const kubernetesExample = "docs/examples/kubernetes/reftrail.yaml"

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Template struct {
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
	} `yaml:"envFrom"`
}

// varRefRE matches Kubernetes' $(VAR) references in an env value.
var varRefRE = regexp.MustCompile(`\$\(([A-Z0-9_]+)\)`)

// TestKubernetesExample checks the example's containers as TestComposeEnvironment
// checks compose's: each reftrail container (image reftrail-<service>) is given
// only variables its service reads, from its env or a ConfigMap, and every one
// it requires; a variable read by none is allowed only as a $(VAR) in another
// value (POD_NAME). enrich must take ENRICH_TRANSACTIONAL_ID from its pod name.
func TestKubernetesExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, kubernetesExample))
	if err != nil {
		t.Fatal(err)
	}
	var objects []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parsing %s: %v", kubernetesExample, err)
		}
		objects = append(objects, o)
	}
	configMaps := map[string]map[string]string{}
	for _, o := range objects {
		if o.Kind == "ConfigMap" {
			configMaps[o.Metadata.Name] = o.Data
		}
	}
	services := map[string]bool{}
	for _, o := range objects {
		for _, c := range o.Spec.Template.Spec.Containers {
			dir, ok := strings.CutPrefix(imageName(c.Image), "reftrail-")
			if !ok {
				continue
			}
			services[dir] = true
			t.Run(o.Kind+"/"+o.Metadata.Name+"/"+c.Name, func(t *testing.T) {
				env := map[string]string{}
				for _, from := range c.EnvFrom {
					if from.ConfigMapRef == nil {
						continue
					}
					data, ok := configMaps[from.ConfigMapRef.Name]
					if !ok {
						t.Errorf("envFrom names ConfigMap %s, which the manifest lacks", from.ConfigMapRef.Name)
					}
					for k, v := range data {
						env[k] = v
					}
				}
				referenced := map[string]bool{}
				for _, e := range c.Env {
					env[e.Name] = e.Value
					for _, m := range varRefRE.FindAllStringSubmatch(e.Value, -1) {
						referenced[m[1]] = true
					}
				}
				read := settingsRead(t, dir)
				for _, v := range sortedKeys(env) {
					if _, ok := read[v]; !ok && !referenced[v] {
						t.Errorf("sets %s, which %s does not read", v, dir)
					}
				}
				for _, v := range sortedKeys(read) {
					if _, ok := env[v]; read[v] && !ok {
						t.Errorf("does not set %s, which %s requires", v, dir)
					}
				}
				if dir == "enrich" && !strings.Contains(env["ENRICH_TRANSACTIONAL_ID"], "$(POD_NAME)") {
					t.Errorf("ENRICH_TRANSACTIONAL_ID=%q does not come from the pod name", env["ENRICH_TRANSACTIONAL_ID"])
				}
			})
		}
	}
	for _, want := range []string{"ingest", "enrich", "sink"} {
		if !services[want] {
			t.Errorf("%s runs no %s container", kubernetesExample, want)
		}
	}
}

// imageName is an image reference without its registry path and tag:
// registry.example.com/reftrail-sink:1 -> reftrail-sink.
func imageName(image string) string {
	image = image[strings.LastIndexByte(image, '/')+1:]
	name, _, _ := strings.Cut(image, ":")
	return name
}
