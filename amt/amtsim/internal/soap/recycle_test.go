package soap

import (
	"bytes"
	"testing"
)

// TestResponseRecycle shows an answer written into a recycled buffer is
// the same as one written into a fresh buffer, and that the buffer of an
// answer still read is not handed out again unless it was recycled.
func TestResponseRecycle(t *testing.T) {
	body := func(w *Writer, pfx []string) { w.Elem(pfx[0]+":X", "value") }
	want := Response("1", "2", "act", "uri", []string{"urn:x"}, body)
	kept := append([]byte(nil), want...)
	for i := 0; i < 5; i++ {
		got := Response("1", "2", "act", "uri", []string{"urn:x"}, body)
		if !bytes.Equal(got, kept) {
			t.Fatalf("answer %d differs:\n%s\n%s", i, got, kept)
		}
		Recycle(got)
	}
	if !bytes.Equal(want, kept) {
		t.Fatal("an answer not recycled was written over")
	}
}
