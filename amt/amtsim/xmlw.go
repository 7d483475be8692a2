package amtsim

import (
	"bytes"
	"encoding/xml"
)

// xmlWriter emits the compact, single-line XML that AMT firmware sends.
// Names are written exactly as given (prefix:local); the caller is
// responsible for declaring prefixes on the root element.
type xmlWriter struct {
	buf bytes.Buffer
}

type attr struct{ name, value string }

func newXMLWriter() *xmlWriter {
	w := &xmlWriter{}
	w.buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	return w
}

func (w *xmlWriter) start(name string, attrs ...attr) {
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for _, a := range attrs {
		w.buf.WriteByte(' ')
		w.buf.WriteString(a.name)
		w.buf.WriteString(`="`)
		w.escape(a.value)
		w.buf.WriteByte('"')
	}
	w.buf.WriteByte('>')
}

func (w *xmlWriter) end(name string) {
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteByte('>')
}

// elem writes <name>text</name>; an empty text still produces a start and an
// end tag, never a self-closing element, as the firmware does.
func (w *xmlWriter) elem(name, text string, attrs ...attr) {
	w.start(name, attrs...)
	w.escape(text)
	w.end(name)
}

func (w *xmlWriter) escape(s string) {
	_ = xml.EscapeText(&w.buf, []byte(s))
}

func (w *xmlWriter) bytes() []byte { return w.buf.Bytes() }
