package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// meta is a local machine's record, meta.json in its directory.
type meta struct {
	ID           string            `json:"id"`
	Cluster      string            `json:"cluster"`
	Role         spec.Role         `json:"role"`
	InstanceType string            `json:"instance_type"`
	LaunchedAt   time.Time         `json:"launched_at"`
	Tags         map[string]string `json:"tags"`
	Token        string            `json:"token"`
	// PGID is the process group (and session) the machine runs in.
	PGID int `json:"pgid"`
}

var tokenRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Preflight implements provider.Preflighter: Dask must be installed for a
// dask workload, and the host must have room for the machines.
func (p *Provider) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	if req.Workload.Name == "dask" {
		py, err := p.pythonPath(ctx)
		if err != nil {
			return err
		}
		if req.Note != nil {
			msg := fmt.Sprintf("running this host's Dask %s (%s)", p.pyVersion, py)
			if len(req.Workload.Pip) > 0 || req.Workload.Image != spec.DefaultImage && req.Workload.Image != "" {
				msg += "; --image and --pip apply to cloud machines only"
			}
			req.Note(msg)
		}
	}
	want := 0
	for _, g := range req.Groups {
		if !g.Fallback {
			want += g.Count
		}
	}
	if want == 0 {
		return nil
	}
	live, err := p.liveCount()
	if err != nil {
		return err
	}
	if live+want > p.opts.MaxMachines {
		return &provider.Error{Kind: provider.ErrQuota, Scope: provider.ScopeProvider, Code: "LocalMachineLimit",
			Msg: fmt.Sprintf("this host runs at most %d local machines (%d running, %d more asked); raise local.max_machines if it can take more", p.opts.MaxMachines, live, want)}
	}
	return nil
}

// Launch implements provider.Provider.
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) (*provider.LaunchResult, error) {
	res := &provider.LaunchResult{}
	if err := spec.ValidateName(req.Cluster); err != nil {
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "%v", err)
	}
	if req.Count <= 0 || !tokenRE.MatchString(req.Token) {
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "local: launch needs a positive count and a token of [a-z0-9-], got %d and %q", req.Count, req.Token)
	}
	if len(req.Offerings) == 0 || req.Offerings[0].Provider != Name || req.Offerings[0].InstanceType != TypeName {
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "local: the only offering is %s/%s", Name, TypeName)
	}
	if req.Offerings[0].Capacity != catalog.OnDemand {
		res.Failures = append(res.Failures, provider.OfferingError{Offering: req.Offerings[0],
			Err: &provider.Error{Kind: provider.ErrNoCapacity, Scope: provider.ScopeProvider, Code: "LocalNoSpot", Msg: "this host has no spot capacity"}})
		return res, nil
	}
	var python string
	if req.Boot.Workload.Name == "dask" {
		var err error
		if python, err = p.pythonPath(ctx); err != nil {
			return res, err
		}
	}
	unlock, err := p.lock()
	if err != nil {
		return res, fmt.Errorf("local: %w", err)
	}
	defer unlock()

	tokDir := filepath.Join(p.opts.Dir, ".tokens")
	tokFile := filepath.Join(tokDir, req.Token)
	if b, err := os.ReadFile(tokFile); err == nil {
		// Launched before with this token: return those machines, as they
		// are now, and create nothing.
		for _, id := range strings.Fields(string(b)) {
			res.Machines = append(res.Machines, p.machineByID(req.Cluster, id))
		}
		return res, nil
	}
	live, err := p.liveCount()
	if err != nil {
		return res, err
	}
	n := min(req.Count, p.opts.MaxMachines-live)
	ids := make([]string, max(n, 0))
	for i := range ids {
		ids[i] = machineID(req.Cluster, req.Role, req.Token, i)
	}
	if err := os.MkdirAll(tokDir, 0o755); err != nil {
		return res, fmt.Errorf("local: %w", err)
	}
	pruneTokens(tokDir, p.opts.Now())
	// The token records each machine once it has started, so a launch cut
	// short (Ctrl-C) and retried with the same token returns what exists
	// and nothing that never did.
	tok, err := os.OpenFile(tokFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return res, fmt.Errorf("local: %w", err)
	}
	defer func() { _ = tok.Close() }() // each record's write is checked below
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		m, err := p.start(id, req, python)
		if err != nil {
			return res, err
		}
		if _, err := fmt.Fprintln(tok, id); err != nil {
			return res, fmt.Errorf("local: %w", err)
		}
		res.Machines = append(res.Machines, m)
	}
	if n < req.Count {
		res.Failures = append(res.Failures, provider.OfferingError{Offering: req.Offerings[0],
			Err: &provider.Error{Kind: provider.ErrNoCapacity, Scope: provider.ScopeProvider, Code: "LocalMachineLimit",
				Msg: fmt.Sprintf("this host runs at most %d local machines (local.max_machines)", p.opts.MaxMachines)}})
	}
	return res, nil
}

// start creates a machine's directory and starts its process group.
func (p *Provider) start(id string, req provider.LaunchRequest, python string) (provider.Machine, error) {
	dir := filepath.Join(p.clusterDir(req.Cluster), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return provider.Machine{}, fmt.Errorf("local: %w", err)
	}
	tags := maps.Clone(req.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	boot := req.Boot
	if req.Role == spec.RoleHead && boot.Workload.Name == "dask" {
		// Several clusters share this host: give each head its own ports.
		sp, err1 := freePort()
		dp, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return provider.Machine{}, fmt.Errorf("local: no free port: %w", err)
		}
		boot.SchedulerPort, boot.DashboardPort = sp, dp
		tags[provider.TagSchedulerPort] = strconv.Itoa(sp)
		tags[provider.TagDashboardPort] = strconv.Itoa(dp)
	}
	if boot.NThreads == 0 {
		boot.NThreads = p.host.VCPUs
	}
	if boot.MemoryLimit == 0 {
		boot.MemoryLimit = int64(p.host.MemoryGiB * (1 << 30))
	}
	if python == "" {
		python = "python3" // workload "none" never runs it
	}
	script, err := bootstrap.Render(boot, bootstrap.Options{Target: bootstrap.Local, Dir: dir, Python: python,
		BindHost: "127.0.0.1", WorkerName: id, Tick: p.opts.Tick})
	if err != nil {
		return provider.Machine{}, err
	}
	scriptPath := filepath.Join(dir, "bootstrap.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o755); err != nil {
		return provider.Machine{}, fmt.Errorf("local: %w", err)
	}
	m := meta{ID: id, Cluster: req.Cluster, Role: req.Role, InstanceType: TypeName, LaunchedAt: p.opts.Now().UTC(), Tags: tags, Token: req.Token}
	if err := writeMeta(dir, m); err != nil {
		return provider.Machine{}, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return provider.Machine{}, fmt.Errorf("local: %w", err)
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptors
	cmd := exec.Command("/bin/sh", scriptPath)
	cmd.Dir = dir
	cmd.Env = machineEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return provider.Machine{}, fmt.Errorf("local: start %s: %w", id, err)
	}
	// Reap the process if it ends while this process lives, so a dead
	// machine is never mistaken for a live zombie.
	go func() { _ = cmd.Wait() }()
	m.PGID = cmd.Process.Pid
	// If the machine already removed itself, its directory is gone and
	// writeMeta fails without recreating it: it is reported terminated.
	_ = writeMeta(dir, m)
	return m.machine(provider.Running), nil
}

func machineEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BURST_") {
			env = append(env, kv)
		}
	}
	return env
}

func writeMeta(dir string, m meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".meta.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "meta.json"))
}

func (m meta) machine(state provider.State) provider.Machine {
	return provider.Machine{
		ID: m.ID, Cluster: m.Cluster, Role: m.Role, State: state, Provider: Name, Region: Region, Zone: Zone,
		InstanceType: m.InstanceType, Capacity: catalog.OnDemand, PrivateIP: "127.0.0.1", LaunchedAt: m.LaunchedAt,
		Tags: m.Tags,
	}
}

// machineID derives a stable ID from the launch token, so a retried launch
// names the same machines.
func machineID(cluster string, role spec.Role, token string, i int) string {
	sum := sha256.Sum256([]byte(token + "/" + strconv.Itoa(i)))
	r := "w"
	if role == spec.RoleHead {
		r = "h"
	}
	return cluster + "-" + r + "-" + hex.EncodeToString(sum[:])[:8]
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pruneTokens drops token records older than a day; a retry comes within
// minutes.
func pruneTokens(dir string, now time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > 24*time.Hour {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
