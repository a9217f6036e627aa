package azure

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// adminUser is the VMs' admin account; the cluster's key logs in as it.
const adminUser = "burst"

// keyDir is where a cluster's SSH key lives: the user's data dir, never the
// cloud. Empty when keys are kept in memory only.
func (p *Provider) keyDir(cluster string) string {
	if p.opts.DataDir == "" {
		return ""
	}
	return filepath.Join(p.opts.DataDir, "azure", cluster)
}

// publicKey returns the cluster's authorized_keys line, creating an
// Ed25519 key pair (private key 0600 in the data dir) on first use.
func (p *Provider) publicKey(cluster string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.keys[cluster]; ok {
		return k, nil
	}
	dir := p.keyDir(cluster)
	if dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, "id_ed25519.pub"))
		if err == nil {
			k := strings.TrimSpace(string(b))
			if err := p.markKey(dir); err != nil {
				return "", err
			}
			p.keys[cluster] = k
			return k, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("azure: reading the SSH key of %s: %w", cluster, err)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " burst-" + cluster
	if dir != "" {
		block, err := ssh.MarshalPrivateKey(priv, "burst-"+cluster)
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("azure: storing the SSH key of %s: %w", cluster, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
			return "", fmt.Errorf("azure: storing the SSH key of %s: %w", cluster, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "id_ed25519.pub"), []byte(line+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("azure: storing the SSH key of %s: %w", cluster, err)
		}
		if err := p.markKey(dir); err != nil {
			return "", err
		}
	}
	p.keys[cluster] = line
	return line, nil
}

// keyMark is the file in a key's directory that names the subscription
// whose cluster the key is for; its modification time is when a run of
// burst last used the key. `burst gc` collects a key only when it is for
// the subscription gc looks at (a key of another subscription's cluster is
// not an orphan here) and unused for a while.
const keyMark = "subscription"

// markKey records the subscription and the time of use in a key's
// directory.
func (p *Provider) markKey(dir string) error {
	if p.sub == "" {
		return nil
	}
	mark := filepath.Join(dir, keyMark)
	if err := os.WriteFile(mark, []byte(p.sub+"\n"), 0o600); err != nil {
		return fmt.Errorf("azure: marking the SSH key in %s: %w", dir, err)
	}
	// By the provider's clock, which dates everything else gc compares.
	now := p.opts.Now()
	if err := os.Chtimes(mark, now, now); err != nil {
		return fmt.Errorf("azure: marking the SSH key in %s: %w", dir, err)
	}
	return nil
}

// forgetKey removes a cluster's key once its machines are gone.
func (p *Provider) forgetKey(cluster string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, cluster)
	if dir := p.keyDir(cluster); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("azure: removing the SSH key of %s: %w", cluster, err)
		}
	}
	return nil
}
