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
	}
	p.keys[cluster] = line
	return line, nil
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
