package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "burst", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	home := t.TempDir()
	cfg, err := Load(Options{Getenv: env(map[string]string{"HOME": home})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider != "local" || !cfg.ProviderFromDefault || cfg.Output != "text" || cfg.Cluster != "burst" {
		t.Fatalf("defaults = %+v", cfg)
	}
	if cfg.StateDir != filepath.Join(home, ".local", "state", "burst") || cfg.CacheDir != filepath.Join(home, ".cache", "burst") {
		t.Fatalf("dirs = %s %s", cfg.StateDir, cfg.CacheDir)
	}
	if cfg.File != "" {
		t.Fatalf("no config file exists, got %q", cfg.File)
	}
}

// Precedence: flag > BURST_* env > config file > default.
func TestPrecedence(t *testing.T) {
	cfgHome := t.TempDir()
	writeConfig(t, cfgHome, "provider: gcp\ncluster: fromfile\nidle_timeout: 5m\naws:\n  region: eu-west-1\ngcp:\n  project: p1\n")
	base := map[string]string{"HOME": t.TempDir(), "XDG_CONFIG_HOME": cfgHome}

	cfg, err := Load(Options{Getenv: env(base)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider != "gcp" || cfg.Cluster != "fromfile" || cfg.IdleTimeout != "5m" || cfg.AWS.Region != "eu-west-1" || cfg.GCP.Project != "p1" || cfg.ProviderFromDefault {
		t.Fatalf("file values not read: %+v", cfg)
	}

	withEnv := map[string]string{"BURST_PROVIDER": "azure", "BURST_AWS_REGION": "us-west-2"}
	for k, v := range base {
		withEnv[k] = v
	}
	cfg, err = Load(Options{Getenv: env(withEnv)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider != "azure" || cfg.AWS.Region != "us-west-2" || cfg.Cluster != "fromfile" {
		t.Fatalf("env did not beat the file: %+v", cfg)
	}

	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("provider", "", "")
	fs.String("output", "text", "")
	if err := fs.Parse([]string{"--provider", "aws", "--output", "json"}); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(Options{Getenv: env(withEnv), Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider != "aws" || cfg.Output != "json" {
		t.Fatalf("flag did not beat env: %+v", cfg)
	}
}

func TestUnsetFlagsDoNotOverride(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("provider", "", "")
	_ = fs.Parse(nil)
	cfg, err := Load(Options{Getenv: env(map[string]string{"HOME": t.TempDir(), "BURST_PROVIDER": "gcp"}), Flags: fs})
	if err != nil || cfg.Provider != "gcp" {
		t.Fatalf("unset flag overrode env: %+v %v", cfg, err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
		env              map[string]string
	}{
		{"unknown key", "provder: aws\n", "provder", nil},
		{"unknown nested key", "aws:\n  regoin: x\n", "regoin", nil},
		{"unparsable", "provider: [aws\n", "config file", nil},
		{"bad output", "output: xml\n", "invalid output", nil},
		{"bad type", "local:\n  max_machines: lots\n", "max_machines", nil},
		{"explicit file missing", "", "no such file", map[string]string{"BURST_CONFIG": "/nonexistent/burst.yaml"}},
		{"section not a map", "aws: 5\n", "aws", nil},
		{"bad value overridden by env", "idle_timeout: 5x\n", "idle_timeout", map[string]string{"BURST_IDLE_TIMEOUT": "10m"}},
		{"bad cluster name", "cluster: Bad_Name\n", "invalid cluster name", nil},
		{"bad workload", "workload: spark\n", "unknown workload", nil},
		{"bad spot policy", "spot_policy: sometimes\n", "spot_policy", nil},
		{"bad env value", "", "max_lifetime", map[string]string{"BURST_MAX_LIFETIME": "forever"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgHome := t.TempDir()
			if tt.body != "" {
				writeConfig(t, cfgHome, tt.body)
			}
			e := map[string]string{"HOME": t.TempDir(), "XDG_CONFIG_HOME": cfgHome}
			for k, v := range tt.env {
				e[k] = v
			}
			_, err := Load(Options{Getenv: env(e)})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

func TestExplicitFileFlag(t *testing.T) {
	p := writeConfig(t, t.TempDir(), "cluster: explicit\n")
	cfg, err := Load(Options{File: p, Getenv: env(map[string]string{"HOME": t.TempDir()})})
	if err != nil || cfg.Cluster != "explicit" || cfg.File != p {
		t.Fatalf("cfg = %+v, err = %v", cfg, err)
	}
}

func TestSliceAndCloudFlags(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.StringSlice("region", nil, "")
	fs.String("project", "", "")
	fs.String("subscription", "", "")
	if err := fs.Parse([]string{"--region", "us-east-1,us-west-2", "--project", "p9", "--subscription", "sub-1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Options{Getenv: env(map[string]string{"HOME": t.TempDir()}), Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-east-1,us-west-2" || cfg.GCP.Project != "p9" || cfg.Azure.Subscription != "sub-1" {
		t.Fatalf("region %q, project %q, subscription %q", cfg.Region, cfg.GCP.Project, cfg.Azure.Subscription)
	}
}

// TestEveryKeyDocumented keeps docs/config.md true: every key the config
// struct has appears there, with its env var.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	registerKeys(v, reflect.ValueOf(Config{}), "")
	for _, k := range v.AllKeys() {
		if !strings.Contains(string(doc), "`"+k+"`") || !strings.Contains(string(doc), envName(k)) {
			t.Errorf("docs/config.md does not document %s (%s)", k, envName(k))
		}
	}
}
