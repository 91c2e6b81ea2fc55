package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// composeService is what the deploy tests read of one compose service.
type composeService struct {
	image       string
	healthcheck []string // the test command, "CMD" first
	healthyDeps []string // depends_on entries with condition service_healthy
}

// readCompose reads deploy/compose.yaml's services with a line scanner
// that knows the file's layout (two-space indents, flow sequences), enough
// for these checks without a YAML dependency.
func readCompose(t *testing.T) map[string]*composeService {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	serviceRE := regexp.MustCompile(`^  ([a-z0-9-]+):\s*$`)
	imageRE := regexp.MustCompile(`^    image:\s*(\S+)`)
	testRE := regexp.MustCompile(`^      test:\s*\[(.*)\]`)
	depRE := regexp.MustCompile(`^      ([a-z0-9-]+):\s*\{condition:\s*service_healthy\}`)
	services := map[string]*composeService{}
	var cur *composeService
	inServices := false
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") {
			inServices = line == "services:"
			cur = nil
			continue
		}
		if !inServices {
			continue
		}
		if m := serviceRE.FindStringSubmatch(line); m != nil {
			cur = &composeService{}
			services[m[1]] = cur
			continue
		}
		if cur == nil {
			continue
		}
		if m := imageRE.FindStringSubmatch(line); m != nil {
			cur.image = m[1]
		}
		if m := testRE.FindStringSubmatch(line); m != nil {
			for _, f := range strings.Split(m[1], ",") {
				cur.healthcheck = append(cur.healthcheck, strings.Trim(strings.TrimSpace(f), `"`))
			}
		}
		if m := depRE.FindStringSubmatch(line); m != nil {
			cur.healthyDeps = append(cur.healthyDeps, m[1])
		}
	}
	if len(services) == 0 {
		t.Fatal("no services found in deploy/compose.yaml; the scanner is out of date")
	}
	return services
}

// imagePrograms lists the programs a health check can run in the images
// compose uses. The plain nats image is built FROM scratch and holds only
// /nats-server; the alpine one adds busybox (sh, wget).
func imagePrograms(image string) ([]string, bool) {
	name, tag, _ := strings.Cut(image, ":")
	switch {
	case name == "nats" && strings.Contains(tag, "alpine"):
		return []string{"nats-server", "wget", "sh"}, true
	case name == "nats":
		return []string{"nats-server"}, true
	case name == "redis":
		return []string{"redis-server", "redis-cli", "sh"}, true
	}
	return nil, false
}

// TestComposeHealthChecksCanRun guards against a health check that runs a
// program its image lacks: compose then never sees the service healthy and
// never starts what depends on it.
func TestComposeHealthChecksCanRun(t *testing.T) {
	services := readCompose(t)
	for name, s := range services {
		if len(s.healthcheck) == 0 {
			continue
		}
		if s.healthcheck[0] != "CMD" || len(s.healthcheck) < 2 {
			t.Errorf("%s: health check %v: want [\"CMD\", program, args...]", name, s.healthcheck)
			continue
		}
		progs, ok := imagePrograms(s.image)
		if !ok {
			t.Errorf("%s: image %q unknown to this test; add what it contains to imagePrograms", name, s.image)
			continue
		}
		if prog := s.healthcheck[1]; !slices.Contains(progs, prog) {
			t.Errorf("%s: health check runs %s, which image %s does not have (it has %v)", name, prog, s.image, progs)
		}
	}
	for name, s := range services {
		for _, dep := range s.healthyDeps {
			if d, ok := services[dep]; !ok || len(d.healthcheck) == 0 {
				t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
			}
		}
	}
	if c := services["corral"]; c == nil || !slices.Contains(c.healthyDeps, "nats") || !slices.Contains(c.healthyDeps, "redis") {
		t.Errorf("corral should wait for healthy nats and redis: %+v", c)
	}
}

// TestDeployStreamReplicas checks the replica count each deployment sets:
// three on Kubernetes, where NATS is a cluster (deploy/nats.conf), and
// none above one in compose, which runs a single NATS server.
func TestDeployStreamReplicas(t *testing.T) {
	if got := deployVars(t, "k8s/config.yaml")["CORRAL_STREAM_REPLICAS"]; got != "3" {
		t.Errorf("deploy/k8s/config.yaml sets CORRAL_STREAM_REPLICAS to %q, want 3", got)
	}
	if got, ok := deployVars(t, "compose.yaml")["CORRAL_STREAM_REPLICAS"]; ok && got != "1" {
		t.Errorf("deploy/compose.yaml runs one NATS server but sets CORRAL_STREAM_REPLICAS to %q", got)
	}
}
