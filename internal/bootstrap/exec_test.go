package bootstrap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burstdev/burst/pkg/spec"
)

// These tests execute the rendered cloud scripts on this machine with the
// system commands they call replaced by stubs: docker (the workload),
// shutdown/poweroff, curl (the clouds' metadata services and APIs), who.
// Each stub appends what it was asked to do to a calls file, so a test can
// check that the watchdog removed the machine the way its cloud needs.

const stubDocker = `#!/bin/sh
echo "docker $*" >>"$STUB_DIR/calls"
case "$1" in
pull) exit 0 ;;
run)
	echo $$ >"$STUB_DIR/workload.pid"
	exec sleep "${STUB_WORKLOAD_SECONDS:-3600}" ;;
stop)
	kill "$(cat "$STUB_DIR/workload.pid")" 2>/dev/null
	exit 0 ;;
esac
exit 0
`

const stubShutdown = `#!/bin/sh
echo "$(basename "$0") $*" >>"$STUB_DIR/calls"
exit 0
`

// stubCurl plays the GCE metadata server, Azure IMDS and the two clouds'
// DELETE endpoints. STUB_DELETE_FAILS makes the DELETE fail.
const stubCurl = `#!/bin/sh
method=GET url= auth=
while [ $# -gt 0 ]; do
	case "$1" in
	-X) method=$2; shift ;;
	-H) case "$2" in Authorization:*) auth=$2 ;; esac; shift ;;
	-*) ;;
	*) url=$1 ;;
	esac
	shift
done
case "$method $url" in
"GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token")
	echo '{"access_token":"gce-token","expires_in":3599,"token_type":"Bearer"}' ;;
"GET http://metadata.google.internal/computeMetadata/v1/project/project-id") echo proj ;;
"GET http://metadata.google.internal/computeMetadata/v1/instance/zone") echo projects/123/zones/us-central1-a ;;
"GET http://metadata.google.internal/computeMetadata/v1/instance/name") echo demo-w-1 ;;
"GET http://169.254.169.254/metadata/identity/oauth2/token"*)
	echo '{"access_token":"az-token","token_type":"Bearer"}' ;;
"GET http://169.254.169.254/metadata/instance/compute/resourceId"*)
	printf /subscriptions/sub/resourceGroups/burst-demo/providers/Microsoft.Compute/virtualMachines/demo-w-1 ;;
"DELETE "*)
	echo "curl DELETE $url $auth" >>"$STUB_DIR/calls"
	[ -z "${STUB_DELETE_FAILS:-}" ] || exit 22 ;;
*) echo "curl: unexpected $method $url" >>"$STUB_DIR/calls"; exit 7 ;;
esac
`

const stubWho = `#!/bin/sh
[ -z "${STUB_LOGGED_IN:-}" ] || echo "user pts/0"
`

type scriptRun struct {
	dir   string
	cmd   *exec.Cmd
	done  chan error
	calls string
}

func startScript(t *testing.T, c Config, target Target, env ...string) *scriptRun {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"docker": stubDocker, "shutdown": stubShutdown, "poweroff": stubShutdown, "curl": stubCurl, "who": stubWho} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := Render(c, Options{Target: target, Dir: filepath.Join(dir, "work"), WorkerName: "demo-w-1", Tick: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "user-data.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &scriptRun{dir: dir, done: make(chan error, 1), calls: filepath.Join(dir, "calls")}
	r.cmd = exec.Command("/bin/sh", path)
	r.cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_DIR="+dir, "BURST_DETACHED=1")
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait(); _ = log.Close() }()
	t.Cleanup(func() { _ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) })
	return r
}

// wait waits for the script to exit and returns its stub calls and log.
func (r *scriptRun) wait(t *testing.T, within time.Duration) (calls, log string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		b, _ := os.ReadFile(filepath.Join(r.dir, "log"))
		t.Fatalf("the script did not remove its machine within %s; log:\n%s", within, b)
	}
	c, _ := os.ReadFile(r.calls)
	l, _ := os.ReadFile(filepath.Join(r.dir, "log"))
	return string(c), string(l)
}

func execConfig(role spec.Role, workload string) Config {
	c := testConfig(role, workload)
	c.IdleTimeout = 0
	c.ExpiresAt = time.Time{}
	return c
}

func needShell(t *testing.T) {
	for _, tool := range []string{"setsid", "nohup", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to execute boot scripts: %v", tool, err)
		}
	}
}

func TestCloudScriptsRemoveTheMachineAtTheDeadline(t *testing.T) {
	needShell(t)
	want := map[Target]string{
		AWS:   "shutdown -h now",
		GCP:   "curl DELETE https://compute.googleapis.com/compute/v1/projects/proj/zones/us-central1-a/instances/demo-w-1 Authorization: Bearer gce-token",
		Azure: "curl DELETE https://management.azure.com/subscriptions/sub/resourceGroups/burst-demo/providers/Microsoft.Compute/virtualMachines/demo-w-1?api-version=",
	}
	for target, removal := range want {
		for _, role := range []spec.Role{spec.RoleHead, spec.RoleWorker} {
			t.Run(string(target)+"-"+string(role), func(t *testing.T) {
				t.Parallel()
				c := execConfig(role, "dask")
				c.ExpiresAt = time.Now().Add(2 * time.Second)
				r := startScript(t, c, target)
				calls, log := r.wait(t, 20*time.Second)
				if !strings.Contains(calls, "docker run") {
					t.Fatalf("the workload never started; calls:\n%s\nlog:\n%s", calls, log)
				}
				if !strings.Contains(calls, removal) {
					t.Fatalf("no %q; calls:\n%s\nlog:\n%s", removal, calls, log)
				}
				if !strings.Contains(log, "max lifetime reached") {
					t.Fatalf("log does not say why:\n%s", log)
				}
				if strings.Index(calls, "docker stop") > strings.Index(calls, strings.Fields(removal)[0]) {
					t.Fatalf("the workload was not stopped before removal:\n%s", calls)
				}
			})
		}
	}
}

func TestCloudScriptsRemoveTheMachineWhenTheWorkloadEnds(t *testing.T) {
	needShell(t)
	for _, target := range []Target{AWS, GCP, Azure} {
		t.Run(string(target), func(t *testing.T) {
			t.Parallel()
			r := startScript(t, execConfig(spec.RoleWorker, "dask"), target, "STUB_WORKLOAD_SECONDS=1")
			calls, log := r.wait(t, 20*time.Second)
			if !strings.Contains(log, "workload exited") || (!strings.Contains(calls, "shutdown") && !strings.Contains(calls, "curl DELETE")) {
				t.Fatalf("calls:\n%s\nlog:\n%s", calls, log)
			}
		})
	}
}

// A failed self-delete on GCE or Azure falls back to a shutdown, which
// leaves a stopped machine for burst gc and stops compute billing on GCE.
func TestSelfDeleteFailureFallsBackToShutdown(t *testing.T) {
	needShell(t)
	for _, target := range []Target{GCP, Azure} {
		t.Run(string(target), func(t *testing.T) {
			t.Parallel()
			c := execConfig(spec.RoleWorker, "dask")
			c.ExpiresAt = time.Now().Add(time.Second)
			r := startScript(t, c, target, "STUB_DELETE_FAILS=1")
			calls, log := r.wait(t, 20*time.Second)
			if !strings.Contains(calls, "curl DELETE") || !strings.Contains(calls, "shutdown -h now") {
				t.Fatalf("calls:\n%s\nlog:\n%s", calls, log)
			}
		})
	}
}

func TestIdleBareMachineRemovesItself(t *testing.T) {
	needShell(t)
	c := execConfig(spec.RoleWorker, "none")
	c.IdleTimeout = 2 * time.Second
	r := startScript(t, c, AWS)
	calls, log := r.wait(t, 20*time.Second)
	if !strings.Contains(log, "idle for 2s") || !strings.Contains(calls, "shutdown -h now") {
		t.Fatalf("calls:\n%s\nlog:\n%s", calls, log)
	}
}

func TestLoggedInBareMachineStays(t *testing.T) {
	needShell(t)
	c := execConfig(spec.RoleWorker, "none")
	c.IdleTimeout = 2 * time.Second
	r := startScript(t, c, AWS, "STUB_LOGGED_IN=1")
	select {
	case err := <-r.done:
		b, _ := os.ReadFile(filepath.Join(r.dir, "log"))
		t.Fatalf("the machine removed itself while a user was logged in (%v):\n%s", err, b)
	case <-time.After(5 * time.Second):
	}
	// SIGTERM (what the cloud sends on shutdown) removes it too.
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	calls, log := r.wait(t, 20*time.Second)
	if !strings.Contains(log, "terminated by signal") || !strings.Contains(calls, "shutdown") {
		t.Fatalf("calls:\n%s\nlog:\n%s", calls, log)
	}
}

func TestDetachedScriptReturnsAtOnce(t *testing.T) {
	needShell(t)
	c := execConfig(spec.RoleWorker, "dask")
	script, err := Render(c, Options{Target: AWS, Dir: t.TempDir(), WorkerName: "w", Tick: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "user-data.sh")
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string]string{path: script, filepath.Join(bin, "docker"): stubDocker, filepath.Join(bin, "shutdown"): stubShutdown} {
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", path)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_DIR="+dir, "STUB_WORKLOAD_SECONDS=1")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cloud-init would wait %s for the user data; it must detach", d)
	}
	// The detached copy runs on and removes the machine once the workload ends.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(filepath.Join(dir, "calls")); strings.Contains(string(b), "shutdown -h now") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	t.Fatalf("the detached watchdog did not remove the machine; calls:\n%s", b)
}
