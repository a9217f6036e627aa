package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/provider"
)

// DaskInstallHint says how to get Dask onto this machine.
const DaskInstallHint = "install it with `sudo apt-get install python3-distributed` (Debian/Ubuntu) or `pip install \"dask[distributed]\"`, or point local.python (BURST_LOCAL_PYTHON) at a Python that has it"

// FindPython returns a Python interpreter that can import dask and
// distributed, and the distributed version. It tries, in order, the
// configured interpreter (which must work if set), python3 on PATH,
// /usr/bin/python3 and python on PATH. The error is an ErrMissing naming what
// to install.
func FindPython(ctx context.Context, configured string) (path, version string, err error) {
	var cands []string
	if configured != "" {
		cands = []string{configured}
	} else {
		for _, name := range []string{"python3", "/usr/bin/python3", "python"} {
			if p, err := exec.LookPath(name); err == nil {
				cands = append(cands, p)
			}
		}
	}
	seen := map[string]bool{}
	var tried []string
	for _, c := range cands {
		key := c
		if r, err := filepath.EvalSymlinks(c); err == nil {
			key = r
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		tried = append(tried, c)
		v, err := daskVersion(ctx, c)
		if err == nil {
			return c, v, nil
		}
	}
	what := "no python3 on PATH"
	if len(tried) > 0 {
		what = "tried " + strings.Join(tried, ", ")
	}
	return "", "", &provider.Error{Kind: provider.ErrMissing, Scope: provider.ScopeProvider,
		Msg: fmt.Sprintf("the local provider needs Dask, which no Python here can import (%s): %s", what, DaskInstallHint)}
}

func daskVersion(ctx context.Context, python string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", "import dask, distributed; print(distributed.__version__)")
	cmd.Env = append(os.Environ(), "PYTHONWARNINGS=ignore")
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// python discovers the interpreter once per provider.
func (p *Provider) pythonPath(ctx context.Context) (string, error) {
	p.pyOnce.Do(func() {
		p.python, p.pyVersion, p.pyErr = FindPython(ctx, p.opts.Python)
	})
	return p.python, p.pyErr
}
