package soap

import (
	"bytes"
	"encoding/xml"
)

// Writer emits the compact, single-line XML that AMT firmware sends.
// Names are written exactly as given (prefix:local); the caller is
// responsible for declaring prefixes on the root element.
type Writer struct {
	buf bytes.Buffer
}

// Attr is one attribute (or namespace declaration) of an element.
type Attr struct{ Name, Value string }

// NewWriter returns a writer that has written the XML declaration.
func NewWriter() *Writer {
	w := &Writer{}
	w.buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	return w
}

// Start writes a start tag.
func (w *Writer) Start(name string, attrs ...Attr) {
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for _, a := range attrs {
		w.buf.WriteByte(' ')
		w.buf.WriteString(a.Name)
		w.buf.WriteString(`="`)
		w.escape(a.Value)
		w.buf.WriteByte('"')
	}
	w.buf.WriteByte('>')
}

// End writes an end tag.
func (w *Writer) End(name string) {
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteByte('>')
}

// Elem writes <name>text</name>; an empty text still produces a start and
// an end tag, never a self-closing element, as the firmware does.
func (w *Writer) Elem(name, text string, attrs ...Attr) {
	w.Start(name, attrs...)
	w.escape(text)
	w.End(name)
}

func (w *Writer) escape(s string) {
	_ = xml.EscapeText(&w.buf, []byte(s))
}

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.buf.Bytes() }
