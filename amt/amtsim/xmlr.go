package amtsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// node is a minimal element tree built from encoding/xml tokens. Requests
// are small (the body size is capped), so a tree is the simplest way to look
// things up by namespace URI and local name regardless of prefixes.
type node struct {
	space, local string
	attrs        []xml.Attr
	text         strings.Builder
	children     []*node
}

func (n *node) is(space, local string) bool {
	return n != nil && n.space == space && n.local == local
}

// child returns the first child element with the given namespace and name.
func (n *node) child(space, local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.is(space, local) {
			return c
		}
	}
	return nil
}

// firstChild returns the first child element, if any.
func (n *node) firstChild() *node {
	if n == nil || len(n.children) == 0 {
		return nil
	}
	return n.children[0]
}

// value returns the trimmed character data of the element.
func (n *node) value() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

func (n *node) attr(local string) (string, bool) {
	if n == nil {
		return "", false
	}
	for _, a := range n.attrs {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

var errNoRoot = errors.New("amtsim: no root element")

// parseXML reads a whole document into a tree. Any syntax error, a second
// root element or trailing garbage is an error.
func parseXML(data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{space: t.Name.Space, local: t.Name.Local, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("amtsim: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("amtsim: text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errNoRoot
	}
	return root, nil
}
