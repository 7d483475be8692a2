package wsman

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrNoProperty is returned by the typed getters of Instance when the
// instance does not carry the property.
var ErrNoProperty = errors.New("no such property")

// Selector identifies an instance by one key property. Value holds a plain
// key; Ref holds a key whose value is an endpoint reference (association
// classes such as CIM_ComputerSystemPackage).
type Selector struct {
	Name  string
	Value string
	Ref   *EPR
}

// Sel returns a selector with a plain value.
func Sel(name, value string) Selector { return Selector{Name: name, Value: value} }

// EPR is a WS-Addressing endpoint reference to a CIM instance.
type EPR struct {
	Address     string // empty means the anonymous address
	ResourceURI string
	Selectors   []Selector
}

func (e *EPR) clone() *EPR {
	out := &EPR{Address: e.Address, ResourceURI: e.ResourceURI, Selectors: make([]Selector, len(e.Selectors))}
	for i, s := range e.Selectors {
		out.Selectors[i] = s
		if s.Ref != nil {
			out.Selectors[i].Ref = s.Ref.clone()
		}
	}
	return out
}

// Selector returns the value of the named selector.
func (e *EPR) Selector(name string) (string, bool) {
	if e == nil {
		return "", false
	}
	for _, s := range e.Selectors {
		if s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}

// Node is a structured property value other than an endpoint reference,
// such as a CIM datetime (<Datetime>...</Datetime>). Names are resolved to
// namespace URIs.
type Node struct {
	Space    string
	Local    string
	Text     string
	Children []*Node
}

// Property is one property of an instance, or one parameter of a method.
// An array property is several Property values with the same Name, in
// order. Exactly one of Value, Ref, Node or Nil describes the value.
type Property struct {
	Name  string
	Value string
	Ref   *EPR
	Node  *Node
	Nil   bool // xsi:nil="true"
}

// Param returns a method parameter or property with a plain value.
func Param(name, value string) Property { return Property{Name: name, Value: value} }

// RefParam returns a method parameter or property whose value is an
// endpoint reference.
func RefParam(name string, ref EPR) Property { return Property{Name: name, Ref: &ref} }

// Instance is a CIM instance as read from or written to the device: the
// class element and its properties in document order. Put writes the
// properties back in the same order, so properties the SDK does not know
// (added by newer firmware) survive a read-modify-write.
type Instance struct {
	ResourceURI string // resource URI of the class (the namespace of its element)
	Class       string // element local name, e.g. AMT_GeneralSettings
	Properties  []Property
	// EPR is the endpoint reference the device gave for the instance, in
	// an enumeration in mode EnumerateEPR (then it is all there is:
	// Properties is empty) or EnumerateObjectAndEPR; nil otherwise.
	EPR *EPR
}

// NewInstance returns an empty instance of the class at resourceURI.
func NewInstance(resourceURI string) *Instance {
	return &Instance{ResourceURI: resourceURI, Class: ClassName(resourceURI)}
}

// Clone returns a deep copy.
func (in *Instance) Clone() *Instance {
	out := &Instance{ResourceURI: in.ResourceURI, Class: in.Class, Properties: make([]Property, len(in.Properties))}
	if in.EPR != nil {
		out.EPR = in.EPR.clone()
	}
	for i, p := range in.Properties {
		out.Properties[i] = p.clone()
	}
	return out
}

func (p Property) clone() Property {
	if p.Ref != nil {
		r := *p.Ref
		r.Selectors = slices.Clone(p.Ref.Selectors)
		p.Ref = &r
	}
	if p.Node != nil {
		p.Node = p.Node.clone()
	}
	return p
}

func (n *Node) clone() *Node {
	c := *n
	c.Children = make([]*Node, len(n.Children))
	for i, ch := range n.Children {
		c.Children[i] = ch.clone()
	}
	return &c
}

// Has reports whether the instance carries the property.
func (in *Instance) Has(name string) bool {
	return slices.ContainsFunc(in.Properties, func(p Property) bool { return p.Name == name })
}

// Get returns the first value of a property. For a structured value it
// returns the text of its innermost element (the datetime of a CIM
// datetime, for example).
func (in *Instance) Get(name string) (string, bool) {
	for _, p := range in.Properties {
		if p.Name == name {
			return p.text(), true
		}
	}
	return "", false
}

// String returns the first value of a property, or "" when absent.
func (in *Instance) String(name string) string {
	v, _ := in.Get(name)
	return v
}

// Values returns every value of an array property, in order.
func (in *Instance) Values(name string) []string {
	var out []string
	for _, p := range in.Properties {
		if p.Name == name {
			out = append(out, p.text())
		}
	}
	return out
}

func (p Property) text() string {
	n := p.Node
	for n != nil {
		if len(n.Children) == 0 {
			return n.Text
		}
		n = n.Children[0]
	}
	return p.Value
}

// Ref returns the endpoint reference held by a property.
func (in *Instance) Ref(name string) (*EPR, bool) {
	for _, p := range in.Properties {
		if p.Name == name && p.Ref != nil {
			return p.Ref, true
		}
	}
	return nil, false
}

// Uint returns a property as an unsigned integer.
func (in *Instance) Uint(name string) (uint64, error) {
	v, ok := in.Get(name)
	if !ok {
		return 0, fmt.Errorf("%w: %s.%s", ErrNoProperty, in.Class, name)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, malformed(fmt.Sprintf("%s.%s is not an unsigned integer: %q", in.Class, name, clip(v)), nil)
	}
	return n, nil
}

// Int returns a property as a signed integer.
func (in *Instance) Int(name string) (int64, error) {
	v, ok := in.Get(name)
	if !ok {
		return 0, fmt.Errorf("%w: %s.%s", ErrNoProperty, in.Class, name)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, malformed(fmt.Sprintf("%s.%s is not an integer: %q", in.Class, name, clip(v)), nil)
	}
	return n, nil
}

// Bool returns a property as a boolean ("true"/"false", any case, or 1/0).
func (in *Instance) Bool(name string) (bool, error) {
	v, ok := in.Get(name)
	if !ok {
		return false, fmt.Errorf("%w: %s.%s", ErrNoProperty, in.Class, name)
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, malformed(fmt.Sprintf("%s.%s is not a boolean: %q", in.Class, name, clip(v)), nil)
}

// Set replaces every value of a property with values. An existing property
// keeps its position; a new one is inserted where AMT would write it (AMT
// writes properties in byte order of their names). Set with no values
// removes the property.
func (in *Instance) Set(name string, values ...string) {
	props := make([]Property, len(values))
	for i, v := range values {
		props[i] = Property{Name: name, Value: v}
	}
	in.replace(name, props)
}

// SetRef replaces a property with an endpoint reference.
func (in *Instance) SetRef(name string, ref EPR) {
	in.replace(name, []Property{{Name: name, Ref: &ref}})
}

// Remove deletes every value of a property.
func (in *Instance) Remove(name string) { in.replace(name, nil) }

func (in *Instance) replace(name string, props []Property) {
	at := -1
	kept := in.Properties[:0:0]
	for _, p := range in.Properties {
		if p.Name == name {
			if at < 0 {
				at = len(kept)
			}
			continue
		}
		kept = append(kept, p)
	}
	if at < 0 {
		at = len(kept)
		for i, p := range kept {
			if p.Name > name {
				at = i
				break
			}
		}
	}
	in.Properties = slices.Insert(kept, at, props...)
}

// clip shortens a value for an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
