package iostreams

import "testing"

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		s, stdin, _, errOut := Test()
		stdin.WriteString(in)
		got, err := s.Confirm("Go?")
		if err != nil || got != want {
			t.Errorf("answer %q: %v %v, want %v", in, got, err, want)
		}
		if errOut.String()[:9] != "Go? [y/N]" {
			t.Errorf("prompt %q", errOut.String())
		}
	}
}

func TestTTYAndColor(t *testing.T) {
	s, _, _, _ := Test()
	if s.CanPrompt() || s.ColorEnabled() || s.Bold("x") != "x" {
		t.Fatal("test streams are not terminals")
	}
	s.SetTTY(true)
	if !s.CanPrompt() || !s.IsStdoutTTY() || !s.IsStderrTTY() {
		t.Fatal("SetTTY")
	}
	if s.ColorEnabled() {
		t.Fatal("colour must stay off: test streams set NO_COLOR")
	}
}
