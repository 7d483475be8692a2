// Package recordings locates the real AMT firmware captures that tests hold
// the SDK and the simulator against. The captures are test data kept beside
// the repository (../shared/recordings) or named by $AMT_RECORDINGS; they
// are never copied into the repository.
package recordings

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Dir returns the recordings folder. When neither $AMT_RECORDINGS nor
// ../shared/recordings exists it fails the test in CI (CI=true), where the
// recordings are required, and skips it with a clear message elsewhere.
func Dir(t testing.TB) string {
	t.Helper()
	if d, ok := Find(); ok {
		return d
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("AMT firmware recordings not found, and CI requires them: set AMT_RECORDINGS or place them in ../shared/recordings beside the repository")
	}
	t.Skip("AMT firmware recordings not found: set AMT_RECORDINGS or place them in ../shared/recordings beside the repository")
	return ""
}

// Find returns the recordings folder without a test.
func Find() (string, bool) {
	if d := os.Getenv("AMT_RECORDINGS"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, true
		}
		return "", false
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "recordings")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d, true
			}
			return "", false
		}
		if filepath.Dir(dir) == dir {
			return "", false
		}
	}
}

// Responses lists every response capture (*.resp.xml) below dir, relative
// to dir, sorted.
func Responses(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".resp.xml") {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing recordings: %v", err)
	}
	sort.Strings(out)
	return out
}
