package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// Node is a minimal element tree built from encoding/xml tokens. Requests
// are small (the body size is capped), so a tree is the simplest way to look
// things up by namespace URI and local name regardless of prefixes.
type Node struct {
	Space, Local string
	Attrs        []xml.Attr
	Children     []*Node
	text         strings.Builder
}

// Is reports whether n is the element {space}local; a nil node is none.
func (n *Node) Is(space, local string) bool {
	return n != nil && n.Space == space && n.Local == local
}

// Child returns the first child element with the given namespace and name.
func (n *Node) Child(space, local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Is(space, local) {
			return c
		}
	}
	return nil
}

// FirstChild returns the first child element, if any.
func (n *Node) FirstChild() *Node {
	if n == nil || len(n.Children) == 0 {
		return nil
	}
	return n.Children[0]
}

// Value returns the trimmed character data of the element.
func (n *Node) Value() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

// Attr returns the attribute of the given local name.
func (n *Node) Attr(local string) (string, bool) {
	if n == nil {
		return "", false
	}
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// ErrNoRoot is returned for a document without an element.
var ErrNoRoot = errors.New("soap: no root element")

// Parse reads a whole document into a tree. Any syntax error, a second
// root element or trailing garbage is an error.
func Parse(data []byte) (*Node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root *Node
	var stack []*Node
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
			n := &Node{Space: t.Name.Space, Local: t.Name.Local, Attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("soap: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("soap: text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, ErrNoRoot
	}
	return root, nil
}
