package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/burstdev/burst/pkg/spec"
)

// Config is burst's whole configuration.
type Config struct {
	// Provider is the default provider, or a comma-separated list to plan
	// across. Empty means "local", with a notice.
	Provider string `mapstructure:"provider"`
	// Output is "text" or "json".
	Output string `mapstructure:"output"`
	// Cluster is the cluster name used when a command is given none.
	Cluster string `mapstructure:"cluster"`
	// Verbose raises log detail on stderr (0 = quiet).
	Verbose int `mapstructure:"verbose"`

	// Spec defaults, applied before a cluster file and flags.
	IdleTimeout string `mapstructure:"idle_timeout"`
	MaxLifetime string `mapstructure:"max_lifetime"`
	Workload    string `mapstructure:"workload"`
	Image       string `mapstructure:"image"`
	SpotPolicy  string `mapstructure:"spot_policy"`
	Region      string `mapstructure:"region"`

	// Directories. State holds local machines and cluster caches; cache
	// holds catalogs and the unavailable-offerings cache; data holds SSH
	// keys.
	StateDir string `mapstructure:"state_dir"`
	CacheDir string `mapstructure:"cache_dir"`
	DataDir  string `mapstructure:"data_dir"`

	Local Local `mapstructure:"local"`
	AWS   AWS   `mapstructure:"aws"`
	GCP   GCP   `mapstructure:"gcp"`
	Azure Azure `mapstructure:"azure"`

	// File is the config file that was read, or "" if none.
	File string `mapstructure:"-"`
	// ProviderFromDefault is true when no flag, env var or file set the
	// provider and "local" was chosen.
	ProviderFromDefault bool `mapstructure:"-"`
}

// Local configures the local provider.
type Local struct {
	// Python is the interpreter with Dask; empty means search PATH and
	// /usr/bin for one that can import distributed.
	Python string `mapstructure:"python"`
	// MaxMachines caps machines on this host; 0 derives it from memory.
	MaxMachines int `mapstructure:"max_machines"`
}

// Error is a configuration error: an unreadable or malformed file, an
// unknown key, a bad value. The CLI maps it to exit code 2.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Options are the inputs of Load.
type Options struct {
	// File is an explicit config file (--config); it must exist.
	File string
	// Flags are flags whose names, with "-" as "_", are config keys; only
	// flags the user set take effect.
	Flags *pflag.FlagSet
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// Providers are the known provider names; when set, provider values
	// must be among them.
	Providers []string
}

// flagKeys maps flags whose names are not their config key: the clouds'
// own spelling of their account flags.
var flagKeys = map[string]string{
	"profile":      "aws.profile",
	"project":      "gcp.project",
	"subscription": "azure.subscription",
}

// Load reads the configuration.
func Load(opts Options) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	v := viper.New()
	// Layers, lowest first: defaults, the config file, env vars, flags.
	// viper's Set is its top layer, so env is Set before flags overwrite it.
	defaults := Config{Output: "text", Cluster: "burst"}
	registerKeys(v, reflect.ValueOf(defaults), "")
	keys := v.AllKeys()

	file := opts.File
	if file == "" {
		file = getenv("BURST_CONFIG")
	}
	explicit := file != ""
	if !explicit {
		file = filepath.Join(xdg(getenv, "XDG_CONFIG_HOME", ".config"), "burst", "config.yaml")
	}
	cfg := &Config{}
	if b, err := os.ReadFile(file); err == nil {
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("config file %s: %s", file, firstLine(err.Error()))}
		}
		// The file alone must be right, even where env or flags override
		// it: a broken value waits for the day nothing overrides it.
		fv := viper.New()
		fv.SetConfigType("yaml")
		_ = fv.ReadConfig(bytes.NewReader(b))
		var fileCfg Config
		if err := fv.UnmarshalExact(&fileCfg); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("config file %s: %s", file, describeDecode(err))}
		}
		if err := fileCfg.validate(opts.Providers); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("config file %s: %v", file, err)}
		}
		cfg.File = file
	} else if explicit || !errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Msg: fmt.Sprintf("config file: %v", err)}
	}
	for _, k := range keys {
		if val := getenv(envName(k)); val != "" {
			v.Set(k, val)
		}
	}
	if opts.Flags != nil {
		opts.Flags.Visit(func(f *pflag.Flag) {
			key := strings.ReplaceAll(f.Name, "-", "_")
			if k, ok := flagKeys[f.Name]; ok {
				key = k
			}
			if !slices.Contains(keys, key) {
				return
			}
			// A slice flag's String is "[a,b]"; config lists are "a,b".
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v.Set(key, strings.Join(sv.GetSlice(), ","))
				return
			}
			v.Set(key, f.Value.String())
		})
	}
	if err := v.UnmarshalExact(cfg); err != nil {
		where := "config"
		if cfg.File != "" {
			where = "config file " + cfg.File
		}
		return nil, &Error{Msg: where + ": " + describeDecode(err)}
	}
	if err := cfg.validate(opts.Providers); err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	if cfg.Provider == "" {
		cfg.Provider = "local"
		cfg.ProviderFromDefault = true
	}
	cfg.Provider = strings.ToLower(cfg.Provider)
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(xdg(getenv, "XDG_STATE_HOME", filepath.Join(".local", "state")), "burst")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(xdg(getenv, "XDG_CACHE_HOME", ".cache"), "burst")
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(xdg(getenv, "XDG_DATA_HOME", filepath.Join(".local", "share")), "burst")
	}
	return cfg, nil
}

// envName is the environment variable of a key: BURST_AWS_REGION for
// aws.region.
func envName(key string) string {
	return "BURST_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// registerKeys declares every field of the config struct as a viper key with
// its default, so env vars reach nested keys and the key list is complete.
func registerKeys(v *viper.Viper, val reflect.Value, prefix string) {
	t := val.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		if f.Type.Kind() == reflect.Struct {
			registerKeys(v, val.Field(i), key+".")
			continue
		}
		v.SetDefault(key, val.Field(i).Interface())
	}
}

func xdg(getenv func(string) string, env, fallback string) string {
	if d := getenv(env); d != "" && filepath.IsAbs(d) {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, fallback)
}

// describeDecode flattens mapstructure's multi-line error into one line.
func describeDecode(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "decoding failed due to") {
			continue
		}
		parts = append(parts, strings.TrimPrefix(l, "* "))
	}
	return strings.Join(parts, "; ")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " " + strings.Join(strings.Fields(s[i+1:]), " ")
	}
	return s
}

// validate checks every value, whether or not this run uses it. Empty
// values are unset and fine.
func (c *Config) validate(providers []string) error {
	if c.Output != "" && c.Output != "text" && c.Output != "json" {
		return fmt.Errorf("invalid output %q (want text or json)", c.Output)
	}
	for _, p := range spec.SplitList(strings.ToLower(c.Provider)) {
		if len(providers) > 0 && !slices.Contains(providers, p) {
			return fmt.Errorf("unknown provider %q (want one of %s)", p, strings.Join(providers, ", "))
		}
	}
	if c.Cluster != "" {
		if err := spec.ValidateName(c.Cluster); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	if c.Verbose < 0 {
		return fmt.Errorf("verbose must not be negative")
	}
	for key, d := range map[string]string{"idle_timeout": c.IdleTimeout, "max_lifetime": c.MaxLifetime} {
		if d != "" {
			if _, err := spec.ParseDuration(d); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if c.Workload != "" && !slices.Contains(spec.Workloads, strings.ToLower(c.Workload)) {
		return fmt.Errorf("workload: unknown workload %q (want one of %s)", c.Workload, strings.Join(spec.Workloads, ", "))
	}
	if c.SpotPolicy != "" {
		if _, err := spec.ParseSpotPolicy(c.SpotPolicy); err != nil {
			return fmt.Errorf("spot_policy: %w", err)
		}
	}
	if c.Image != "" && strings.ContainsAny(c.Image, " \t\n'\"`$;&|<>\\") {
		return fmt.Errorf("image: invalid image %q", c.Image)
	}
	if len(spec.SplitList(c.Region)) > 0 {
		probe := spec.Default("probe")
		probe.Regions = spec.SplitList(c.Region)
		if err := probe.Validate(); err != nil {
			return fmt.Errorf("region: %w", err)
		}
	}
	if c.Local.MaxMachines < 0 {
		return fmt.Errorf("local.max_machines must not be negative")
	}
	return c.validateClouds()
}

// validateClouds checks the provider sections the way their providers
// will read them, so a bad value fails before any cloud is called.
func (c *Config) validateClouds() error {
	cidrs := map[string][]string{
		"aws.allowed_cidrs": c.AWS.AllowedCIDRs,
		"gcp.allowed_cidrs": c.GCP.AllowedCIDRs,
		"azure.caller_cidr": spec.SplitList(c.Azure.CallerCIDR),
	}
	for key, list := range cidrs {
		for _, v := range list {
			if _, err := netip.ParsePrefix(strings.TrimSpace(v)); err != nil {
				return fmt.Errorf("%s: %q is not a CIDR range (e.g. 203.0.113.7/32)", key, v)
			}
		}
	}
	urls := map[string]string{
		"aws.check_ip_url":      c.AWS.CheckIPURL,
		"gcp.endpoint":          c.GCP.Endpoint,
		"gcp.ip_detect_url":     c.GCP.IPDetectURL,
		"azure.endpoint":        c.Azure.Endpoint,
		"azure.prices_endpoint": c.Azure.PricesEndpoint,
	}
	for key, v := range urls {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: %q is not an http(s) URL", key, v)
		}
	}
	nums := map[string]int{"aws.max_attempts": c.AWS.MaxAttempts, "gcp.mutations_per_minute": c.GCP.MutationsPerMinute}
	for key, v := range nums {
		if v < 0 {
			return fmt.Errorf("%s must not be negative", key)
		}
	}
	words := map[string]string{
		"aws.profile": c.AWS.Profile, "aws.region": c.AWS.Region, "aws.ami": c.AWS.AMI,
		"gcp.project": c.GCP.Project, "gcp.network": c.GCP.Network, "gcp.subnetwork": c.GCP.Subnetwork,
		"gcp.service_account": c.GCP.ServiceAccount, "gcp.image": c.GCP.Image, "gcp.arm_image": c.GCP.ARMImage, "gcp.gpu_image": c.GCP.GPUImage,
		"azure.subscription": c.Azure.Subscription, "azure.location": c.Azure.Location,
		"azure.image": c.Azure.Image, "azure.arm_image": c.Azure.ArmImage, "azure.gpu_image": c.Azure.GPUImage,
	}
	for key, v := range words {
		if strings.ContainsAny(v, " \t\n'\"`$;&|<>\\") {
			return fmt.Errorf("%s: invalid value %q", key, v)
		}
	}
	for key, list := range map[string][]string{"aws.regions": c.AWS.Regions, "aws.subnets": c.AWS.Subnets,
		"gcp.region": spec.SplitList(c.GCP.Region), "azure.locations": spec.SplitList(c.Azure.Locations)} {
		for _, v := range list {
			if v == "" || strings.ContainsAny(v, " \t\n'\"`$;&|<>\\/") {
				return fmt.Errorf("%s: invalid value %q", key, v)
			}
		}
	}
	return nil
}
