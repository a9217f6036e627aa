package reliability

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/burstdev/burst/internal/testenv"
)

// badCase is one malformed input: args for burst, extra environment, a
// config file body or a cluster file body.
type badCase struct {
	name    string
	args    []string
	env     []string
	config  string // config.yaml body, "" for none
	cluster string // cluster.yaml body, passed with -f
}

// Malformed values per spec flag: wrong types, out of range, unknown names,
// unicode and path-like strings, shell metacharacters.
var badFlagValues = map[string][]string{
	"--cpu":                {"", "0", "-1", "abc", "4++", "1e3", "99999", "４", "8.5"},
	"--memory":             {"", "0", "-1GiB", "12XB", "GiB", "32 GiB+x", "1e99999", "99999999999TiB"},
	"--gpu":                {"A100:0", "A100:-1", "A100:999", "../etc", "A100:x", ":", "A100:8:8"},
	"--gpu-memory":         {"abc", "0", "-4GiB"},
	"--arch":               {"sparc", "x86", "arm64v9", "../arm64"},
	"--disk":               {"0", "1MiB", "999TiB", "x"},
	"--spot-policy":        {"cheap", "", "SPOT!"},
	"--max-price":          {"-1", "free", "NaN", "Inf", "0", "1e9"},
	"--region":             {"us east 1", "../etc", "région", "a;b"},
	"--zone":               {"a/b", "zone with space"},
	"--instance-type":      {"m5 large", "a;b", "$(id)", "a/b"},
	"--head-cpu":           {"zero", "-2"},
	"--head-memory":        {"lots"},
	"--head-instance-type": {"x y"},
	"--workload":           {"spark", "../none", ""},
	"--image":              {"a b", "$(id)", "img;rm"},
	"--pip":                {"pandas; rm -rf /", "", "`id`", "a b"},
	"--idle-timeout":       {"5x", "-1h", "forever", ""},
	"--max-lifetime":       {"-30m", "1y", "ages"},
	"--death-timeout":      {"soon", "-1s"},
	"-n":                   {"-1", "x", "100001", "1.5", "９", "99999999999999999999"},
	"--wait":               {"forever", ""},
	"--timeout":            {"x", "10"},
}

var badNames = []string{"Bad_Name", "../etc", "a/b", "ünïcode", strings.Repeat("a", 33), "-start", "end-", "UPPER", "a b", "$(id)"}

var badEnv = map[string][]string{
	"BURST_PROVIDER":           {"nope", "aws,nope", "../aws"},
	"BURST_OUTPUT":             {"xml", "JSONL"},
	"BURST_IDLE_TIMEOUT":       {"5x", "-1h"},
	"BURST_MAX_LIFETIME":       {"forever"},
	"BURST_WORKLOAD":           {"spark"},
	"BURST_SPOT_POLICY":        {"cheap"},
	"BURST_REGION":             {"us east 1", "../x"},
	"BURST_CLUSTER":            {"Bad_Name", "../etc"},
	"BURST_LOCAL_MAX_MACHINES": {"lots"},
	"BURST_VERBOSE":            {"loud"},
	"BURST_CONFIG":             {"/nonexistent/burst.yaml"},
	"BURST_IMAGE":              {"a b"},
	// Provider settings: each fails before its cloud is called.
	"BURST_AWS_ALLOWED_CIDRS":        {"not-a-cidr", "10.0.0.0/33"},
	"BURST_AWS_CHECK_IP_URL":         {"checkip", "ftp://x"},
	"BURST_AWS_MAX_ATTEMPTS":         {"-1", "many"},
	"BURST_AWS_PROFILE":              {"my profile"},
	"BURST_GCP_ALLOWED_CIDRS":        {"everyone"},
	"BURST_GCP_MUTATIONS_PER_MINUTE": {"-5"},
	"BURST_GCP_ENDPOINT":             {"not a url"},
	"BURST_GCP_PROJECT":              {"$(id)"},
	"BURST_GCP_NO_PUBLIC_IP":         {"perhaps"},
	"BURST_AZURE_CALLER_CIDR":        {"1.2.3.4/99"},
	"BURST_AZURE_ENDPOINT":           {"localhost:8080"},
	"BURST_AZURE_SUBSCRIPTION":       {"a;b"},
	"BURST_AZURE_LOCATIONS":          {"east us"},
}

var badConfigs = map[string]string{
	"unknown key":        "provder: aws\n",
	"unknown nested key": "aws:\n  regoin: us-east-1\n",
	"broken yaml":        "provider: [aws\n",
	"section not a map":  "aws: 5\n",
	"list for a string":  "output: [json]\n",
	"bad output":         "output: 3\n",
	"bad verbose":        "verbose: loud\n",
	"bad idle timeout":   "idle_timeout: 5x\n",
	"bad workload":       "workload: spark\n",
	"bad spot policy":    "spot_policy: sometimes\n",
	"bad max machines":   "local:\n  max_machines: many\n",
	"bad cluster name":   "cluster: Bad_Name\n",
	"bad provider":       "provider: nope\n",
	"tab indentation":    "aws:\n\tregion: x\n",
}

const clusterHead = "apiVersion: burst.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: filecluster\n"

var badClusterFiles = map[string]string{
	"empty":            "",
	"broken yaml":      clusterHead + "spec: [\n",
	"wrong apiVersion": "apiVersion: burst.dev/v9\nkind: Cluster\nspec: {}\n",
	"wrong kind":       "apiVersion: burst.dev/v1alpha1\nkind: Pod\nspec: {}\n",
	"unknown field":    clusterHead + "spec:\n  wrokers:\n    count: 2\n",
	"unknown pool key": clusterHead + "spec:\n  workers:\n    cpus: 4\n",
	"negative count":   clusterHead + "spec:\n  workers:\n    count: -1\n",
	"string count":     clusterHead + "spec:\n  workers:\n    count: many\n",
	"huge count":       clusterHead + "spec:\n  workers:\n    count: 99999999\n",
	"bad cpu":          clusterHead + "spec:\n  workers:\n    cpu: lots\n",
	"bad memory":       clusterHead + "spec:\n  workers:\n    memory: 12XB\n",
	"bad gpu":          clusterHead + "spec:\n  workers:\n    gpu: \"A100:0\"\n",
	"bad arch":         clusterHead + "spec:\n  workers:\n    arch: sparc\n",
	"bad disk":         clusterHead + "spec:\n  workers:\n    disk: 1MiB\n",
	"bad spot":         clusterHead + "spec:\n  workers:\n    spot: cheap\n",
	"bad max price":    clusterHead + "spec:\n  workers:\n    maxPrice: free\n",
	"bad types":        clusterHead + "spec:\n  workers:\n    instanceTypes: [\"a b\"]\n",
	"bad head count":   clusterHead + "spec:\n  head:\n    count: 2\n",
	"spot head":        clusterHead + "spec:\n  head:\n    spot: spot\n",
	"bad region":       clusterHead + "spec:\n  region: [\"../etc\"]\n",
	"bad provider":     clusterHead + "spec:\n  provider: [nope]\n",
	"bad idle timeout": clusterHead + "spec:\n  idleTimeout: soon\n",
	"bad lifetime":     clusterHead + "spec:\n  maxLifetime: -1h\n",
	"bad workload":     clusterHead + "spec:\n  workload:\n    name: spark\n",
	"bad image":        clusterHead + "spec:\n  workload:\n    image: \"a b\"\n",
	"bad pip":          clusterHead + "spec:\n  workload:\n    pip: [\"x; rm -rf /\"]\n",
	"bad death":        clusterHead + "spec:\n  workload:\n    deathTimeout: never\n",
	"bad file name":    "apiVersion: burst.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: Bad_Name\nspec: {}\n",
	"two documents":    clusterHead + "spec:\n  workers:\n    count: 1\n---\n" + clusterHead + "spec: 5\n",
}

func badCases() []badCase {
	var cases []badCase
	flags := make([]string, 0, len(badFlagValues))
	for f := range badFlagValues {
		flags = append(flags, f)
	}
	sort.Strings(flags)
	for _, f := range flags {
		for _, v := range badFlagValues[f] {
			for _, cmd := range []string{"up", "plan"} {
				if cmd == "plan" && (f == "--wait" || f == "--timeout") {
					continue
				}
				cases = append(cases, badCase{name: fmt.Sprintf("%s %s=%q", cmd, f, v), args: []string{cmd, "bad", f + "=" + v, "--yes"}})
			}
		}
	}
	for _, n := range badNames {
		for _, cmd := range [][]string{{"up", n, "--yes"}, {"plan", n}, {"status", n}, {"down", n, "--yes"}, {"scale", n, "3", "--yes"}} {
			cases = append(cases, badCase{name: fmt.Sprintf("%s name %q", cmd[0], n), args: cmd})
		}
	}
	for _, n := range []string{"-1", "x", "100001", "1e3"} {
		cases = append(cases, badCase{name: "scale count " + n, args: []string{"scale", "bad", n, "--yes"}})
	}
	cases = append(cases,
		badCase{name: "unknown flag", args: []string{"up", "--colour", "--yes"}},
		badCase{name: "unknown command", args: []string{"launch"}},
		badCase{name: "too many args", args: []string{"up", "a", "b", "--yes"}},
		badCase{name: "gc conflicting flags", args: []string{"gc", "--region", "x", "--all-regions"}},
		badCase{name: "ls conflicting flags", args: []string{"ls", "--region", "x", "--all-regions"}},
		badCase{name: "policy of unknown provider", args: []string{"policy", "nimbus"}},
		badCase{name: "down without --yes and no terminal", args: []string{"down", "bad"}},
	)
	envs := make([]string, 0, len(badEnv))
	for k := range badEnv {
		envs = append(envs, k)
	}
	sort.Strings(envs)
	for _, k := range envs {
		for _, v := range badEnv[k] {
			cases = append(cases, badCase{name: fmt.Sprintf("env %s=%q", k, v), args: []string{"up", "--yes"}, env: []string{k + "=" + v}})
		}
	}
	for name, body := range badConfigs {
		cases = append(cases, badCase{name: "config " + name, args: []string{"up", "bad", "--yes"}, config: body})
	}
	for name, body := range badClusterFiles {
		cases = append(cases, badCase{name: "cluster file " + name, args: []string{"up", "--yes"}, cluster: body})
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	return cases
}

// TestBadInput runs every malformed input against every cloud's simulator:
// each must exit 2 with one line on stderr, print no data, not panic, and
// make no API call at all.
func TestBadInput(t *testing.T) {
	cases := badCases()
	for _, cloud := range cloudClouds() {
		t.Run(cloud, func(t *testing.T) {
			s := testenv.NewSandbox(t)
			c := testenv.StartCloud(t, s, cloud, testenv.CloudOptions{})
			base := append([]string(nil), s.Env...)
			for _, bc := range cases {
				s.Env = append(append([]string(nil), base...), bc.env...)
				args := bc.args
				cfgPath := filepath.Join(s.Home, "config", "burst", "config.yaml")
				if err := os.Remove(cfgPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				if bc.config != "" {
					if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(cfgPath, []byte(bc.config), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if bc.cluster != "" || strings.HasPrefix(bc.name, "cluster file") {
					p := filepath.Join(s.Home, "cluster.yaml")
					if err := os.WriteFile(p, []byte(bc.cluster), 0o644); err != nil {
						t.Fatal(err)
					}
					args = append(append([]string(nil), args...), "-f", p)
				}
				before := c.Requests()
				r := s.Run(args...)
				lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
				switch {
				case r.Code != 2:
					t.Errorf("%s: exit %d, want 2; stderr %q", bc.name, r.Code, r.Stderr)
				case len(lines) != 1 || !strings.HasPrefix(lines[0], "burst: "):
					t.Errorf("%s: stderr is not one burst: line: %q", bc.name, r.Stderr)
				case strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine"):
					t.Errorf("%s: panicked: %s", bc.name, r.Stderr)
				case r.Stdout != "":
					t.Errorf("%s: printed data: %q", bc.name, r.Stdout)
				case c.Requests() != before:
					t.Errorf("%s: made %d API requests", bc.name, c.Requests()-before)
				}
			}
			if leaks := c.Leaks(); len(leaks) > 0 {
				t.Fatalf("bad input created %v", first(leaks, 5))
			}
			t.Logf("%s: %d malformed inputs, each exit 2, one line, 0 API requests", cloud, len(cases))
		})
	}
}
