package xpress

import "testing"

func TestNewEncoderLevel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level int
		fast  bool
	}{
		{"default", 0, false},
		{"negative is the default", -5, false},
		{"lowest", 1, true},
		{"quick", 20, true},
		{"below medium", 34, true},
		{"threshold", 35, false},
		{"medium", 50, false},
		{"high", 100, false},
		{"beyond high", 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewEncoderLevel(tc.level).fast; got != tc.fast {
				t.Errorf("NewEncoderLevel(%d) fast = %v, want %v", tc.level, got, tc.fast)
			}
		})
	}
}
