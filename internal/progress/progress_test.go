package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONIsNDJSON(t *testing.T) {
	var b bytes.Buffer
	r := NewJSON(&b)
	r.Event(Event{Type: TypeLaunch, Cluster: "c", Count: 3})
	r.Event(Event{Type: TypeWait, Ready: 1, Total: 3})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["type"] == nil || m["time"] == nil {
			t.Fatalf("line %q: %v", l, err)
		}
	}
}

func TestTextWithoutTerminal(t *testing.T) {
	var b bytes.Buffer
	r := NewText(&b, false, false)
	r.Event(Event{Type: TypeObserve, Message: "found 0"})
	r.Event(Event{Type: TypeLaunch, Message: "launching 3 workers"})
	r.Event(Event{Type: TypeWait, Ready: 1, Total: 3, Message: "machines running"})
	r.Event(Event{Type: TypeWarning, Message: "careful"})
	r.Close()
	want := "launching 3 workers\nwarning: careful\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q (observe and wait lines are for -v or a terminal)", b.String(), want)
	}
}

func TestTextTerminalBar(t *testing.T) {
	var b bytes.Buffer
	r := NewText(&b, true, false)
	r.Event(Event{Type: TypeWait, Ready: 1, Total: 4, Message: "machines running"})
	r.Event(Event{Type: TypeWait, Ready: 4, Total: 4, Message: "machines running"})
	r.Event(Event{Type: TypeReady, Message: "4 machines running"})
	r.Close()
	if !strings.Contains(b.String(), "machines running") || !strings.Contains(b.String(), "4 machines running\n") {
		t.Fatalf("terminal output %q", b.String())
	}
}
