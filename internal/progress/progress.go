package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Event types. The JSON form of every event has a "type" field with one of
// these; docs/json.md documents the fields of each.
const (
	TypeObserve     = "observe"     // machines found by tag
	TypePrepare     = "prepare"     // shared resources (network, keys) made
	TypeLaunch      = "launch"      // a launch call starts
	TypeLaunched    = "launched"    // machines exist
	TypeUnavailable = "unavailable" // an offering failed; it is skipped for a while
	TypeTerminate   = "terminate"   // machines asked to end
	TypeWait        = "wait"        // waiting for machines: Ready of Total
	TypeReady       = "ready"       // what was waited for is ready
	TypeNote        = "note"        // how something will run, from a provider
	TypeWarning     = "warning"     // something the user should know
	TypeSummary     = "summary"     // the last event of a command
)

// Event is one progress event. Fields that do not apply are empty.
type Event struct {
	Type         string    `json:"type"`
	Time         time.Time `json:"time"`
	Cluster      string    `json:"cluster,omitempty"`
	Message      string    `json:"message,omitempty"`
	Role         string    `json:"role,omitempty"`
	Provider     string    `json:"provider,omitempty"`
	Region       string    `json:"region,omitempty"`
	Zone         string    `json:"zone,omitempty"`
	InstanceType string    `json:"instance_type,omitempty"`
	Capacity     string    `json:"capacity,omitempty"`
	Count        int       `json:"count,omitempty"`
	IDs          []string  `json:"ids,omitempty"`
	Ready        int       `json:"ready,omitempty"`
	Total        int       `json:"total,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// Reporter receives events. Implementations are safe for concurrent use.
type Reporter interface {
	Event(e Event)
	// Close ends any bar; call it before printing results.
	Close()
}

// Discard drops every event.
type Discard struct{}

// Event implements Reporter.
func (Discard) Event(Event) {}

// Close implements Reporter.
func (Discard) Close() {}

// JSON writes each event as one JSON line (NDJSON).
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSON returns a reporter writing NDJSON to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Event implements Reporter.
func (j *JSON) Event(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	_ = j.enc.Encode(e)
}

// Close implements Reporter.
func (j *JSON) Close() {}

// Text writes human lines to w; on a terminal, wait events drive a progress
// bar instead of lines.
type Text struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	verbose bool
	bar     *progressbar.ProgressBar
	total   int
}

// NewText returns a text reporter. tty enables the progress bar; verbose
// prints every event, not just the notable ones.
func NewText(w io.Writer, tty, verbose bool) *Text { return &Text{w: w, tty: tty, verbose: verbose} }

// Event implements Reporter.
func (t *Text) Event(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Type == TypeWait {
		if t.tty {
			t.updateBar(e)
			return
		}
		if !t.verbose {
			return
		}
	}
	if e.Type == TypeObserve && !t.verbose {
		return
	}
	t.clearBar()
	msg := e.Message
	if msg == "" {
		msg = e.Type
	}
	if e.Error != "" && e.Type != TypeUnavailable && e.Type != TypeWarning {
		msg += ": " + e.Error
	}
	prefix := ""
	if e.Type == TypeWarning {
		prefix = "warning: "
	}
	_, _ = fmt.Fprintf(t.w, "%s%s\n", prefix, msg) // stderr: a failed write has nowhere to go
}

func (t *Text) updateBar(e Event) {
	if t.bar == nil || t.total != e.Total {
		t.clearBar()
		t.total = e.Total
		desc := e.Message
		if desc == "" {
			desc = "waiting for machines"
		}
		t.bar = progressbar.NewOptions(e.Total,
			progressbar.OptionSetWriter(t.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	_ = t.bar.Set(e.Ready)
}

func (t *Text) clearBar() {
	if t.bar != nil {
		_ = t.bar.Clear()
		t.bar = nil
	}
}

// Close implements Reporter.
func (t *Text) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearBar()
}
