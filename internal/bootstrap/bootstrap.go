package bootstrap

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/burstdev/burst/pkg/spec"
)

// Target is where a script runs.
type Target string

// Targets.
const (
	Local Target = "local"
	AWS   Target = "aws"
	GCP   Target = "gcp"
	Azure Target = "azure"
)

// Default Dask ports.
const (
	SchedulerPort = 8786
	DashboardPort = 8787
)

// MaxUserData is EC2's limit on user data; every rendered cloud script must
// stay under it.
const MaxUserData = 16 << 10

// Config is what a machine runs, independent of where. The provision engine
// fills it; the provider adds Options and renders.
type Config struct {
	Cluster  string
	Role     spec.Role
	Workload spec.Workload
	// SchedulerAddress is where a worker connects ("tcp://10.0.0.5:8786").
	SchedulerAddress string
	// SchedulerPort and DashboardPort are where a head listens.
	SchedulerPort int
	DashboardPort int
	// IdleTimeout: remove the cluster after this long with no tasks and no
	// clients; 0 disables.
	IdleTimeout time.Duration
	// ExpiresAt is the hard deadline; zero means none.
	ExpiresAt time.Time
	// NThreads and MemoryLimit size a Dask worker; 0 means detect at boot.
	NThreads    int
	MemoryLimit int64
}

// Options are the target-specific inputs, supplied by the provider.
type Options struct {
	Target Target
	// Dir is the machine's working directory (local: its state dir;
	// clouds: /var/lib/burst by default).
	Dir string
	// Python is the local interpreter that has Dask (local only).
	Python string
	// BindHost is the address Dask listens on ("127.0.0.1" locally; empty
	// on clouds, meaning all interfaces).
	BindHost string
	// WorkerName names a Dask worker; empty means the machine's hostname,
	// which is what a bulk launch (one script for many machines) needs.
	WorkerName string
	// APIEndpoint is the cloud API self-removal calls (gcp, azure); empty
	// means the public one.
	APIEndpoint string
	// Tick is the watchdog's poll period (default 5s, shorter for short
	// idle timeouts).
	Tick time.Duration
}

//go:embed script.sh.tmpl
var scriptTmpl string

//go:embed targets.tmpl
var targetsTmpl string

//go:embed dask_idle.py
var idlePlugin string

var tmpl = template.Must(template.Must(template.New("script").Funcs(template.FuncMap{"q": Quote}).Parse(scriptTmpl)).Parse(targetsTmpl))

// Render returns the script for c on the target in o.
func Render(c Config, o Options) (string, error) {
	if err := spec.ValidateName(c.Cluster); err != nil {
		return "", err
	}
	if c.Role != spec.RoleHead && c.Role != spec.RoleWorker {
		return "", fmt.Errorf("bootstrap: unknown role %q", c.Role)
	}
	if c.Workload.Name == "dask" && c.Role == spec.RoleWorker && c.SchedulerAddress == "" {
		return "", fmt.Errorf("bootstrap: a dask worker needs the scheduler address")
	}
	tick := o.Tick
	if tick <= 0 {
		// Check every 5s, or four times per idle timeout when that is short.
		tick = 5 * time.Second
		if c.IdleTimeout > 0 {
			tick = min(tick, max(time.Second, c.IdleTimeout/4))
		}
	}
	dir := o.Dir
	api := o.APIEndpoint
	switch o.Target {
	case Local:
		if o.Python == "" || dir == "" {
			return "", fmt.Errorf("bootstrap: local target needs Python and Dir")
		}
	case AWS:
	case GCP:
		if api == "" {
			api = "https://compute.googleapis.com"
		}
	case Azure:
		if api == "" {
			api = "https://management.azure.com"
		}
	default:
		return "", fmt.Errorf("bootstrap: unknown target %q", o.Target)
	}
	if dir == "" {
		dir = "/var/lib/burst"
	}
	sp, dp := c.SchedulerPort, c.DashboardPort
	if sp == 0 {
		sp = SchedulerPort
	}
	if dp == 0 {
		dp = DashboardPort
	}
	var expires int64
	if !c.ExpiresAt.IsZero() {
		expires = c.ExpiresAt.Unix()
	}
	death := c.Workload.DeathTimeout
	if death <= 0 {
		death = spec.DefaultDeathTimeout
	}
	dash := fmt.Sprintf(":%d", dp)
	if o.BindHost != "" {
		dash = fmt.Sprintf("%s:%d", o.BindHost, dp)
	}
	bind := o.BindHost
	if bind == "" && c.Role == spec.RoleHead {
		bind = "0.0.0.0"
	}
	data := map[string]any{
		"Cluster":          c.Cluster,
		"Role":             string(c.Role),
		"Target":           string(o.Target),
		"Workload":         c.Workload.Name,
		"Dir":              dir,
		"Expires":          expires,
		"IdleSeconds":      int64(c.IdleTimeout.Round(time.Second) / time.Second),
		"TickSeconds":      max(1, int64(tick.Round(time.Second)/time.Second)),
		"Detach":           o.Target != Local,
		"IdlePlugin":       idlePlugin,
		"BindHost":         bind,
		"SchedulerPort":    sp,
		"DashboardAddress": dash,
		"SchedulerAddress": c.SchedulerAddress,
		"NThreads":         c.NThreads,
		"MemoryLimit":      c.MemoryLimit,
		"DeathSeconds":     max(1, int64(death.Round(time.Second)/time.Second)),
		"WorkerName":       o.WorkerName,
		"Python":           o.Python,
		"Image":            c.Workload.Image,
		"Pip":              strings.Join(c.Workload.Pip, " "),
		"APIEndpoint":      api,
	}
	if c.Role == spec.RoleWorker {
		data["BindHost"] = o.BindHost
	}
	var buf bytes.Buffer
	// The target's definitions are looked up by name.
	t, err := tmpl.Clone()
	if err != nil {
		return "", err
	}
	if _, err := t.New("target").Parse(`{{template "` + string(o.Target) + `" .}}`); err != nil {
		return "", err
	}
	if err := t.ExecuteTemplate(&buf, "script", data); err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	out := buf.String()
	if o.Target != Local && len(out) > MaxUserData {
		return "", fmt.Errorf("bootstrap: rendered script is %d bytes, over the %d-byte user-data limit", len(out), MaxUserData)
	}
	return out, nil
}

// Quote returns s as one single-quoted shell word.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
