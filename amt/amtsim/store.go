package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"slices"
	"sort"
)

// attr is one selector of an eprValue.
type attr struct{ name, value string }

// eprValue is an endpoint reference held by a reference-typed property such
// as the Antecedent and Dependent of an association.
type eprValue struct {
	address     string
	resourceURI string
	selectors   []attr // Name -> value, written in this order
}

// property is one CIM property. A scalar has one value, an array has one per
// element; an EPR-valued property has epr set instead.
type property struct {
	values []string
	epr    *eprValue
	// datetime wraps the value in the common namespace's <Datetime>, as
	// the firmware writes CIM datetimes.
	datetime bool
}

// instance is a CIM instance: properties are written in ASCII order of
// their names, as the firmware serializer does.
type instance struct {
	props map[string]property
	// class and uri name the instance's own class when an enumeration of a
	// parent class returns it (CIM_Chip returns CIM_PhysicalMemory); empty
	// for an instance of the addressed class.
	class, uri string
}

func newInstance() *instance { return &instance{props: map[string]property{}} }

func (in *instance) set(name string, values ...string) *instance {
	in.props[name] = property{values: slices.Clone(values)}
	return in
}

func (in *instance) setEPR(name string, e eprValue) *instance {
	in.props[name] = property{epr: &e}
	return in
}

func (in *instance) get(name string) (string, bool) {
	p, ok := in.props[name]
	if !ok || p.epr != nil || len(p.values) == 0 {
		return "", false
	}
	return p.values[0], true
}

func (in *instance) names() []string {
	names := make([]string, 0, len(in.props))
	for n := range in.props {
		names = append(names, n)
	}
	sort.Strings(names) // byte-wise, i.e. ASCII order
	return names
}

func (in *instance) clone() *instance {
	out := newInstance()
	out.class, out.uri = in.class, in.uri
	for k, p := range in.props {
		cp := property{values: slices.Clone(p.values), datetime: p.datetime}
		if p.epr != nil {
			e := *p.epr
			e.selectors = slices.Clone(p.epr.selectors)
			cp.epr = &e
		}
		out.props[k] = cp
	}
	return out
}

// writeInstance writes the instance element <pfx:Class> with its properties.
// pfx is the prefix bound to the class namespace; addr and wsman are the
// prefixes of WS-Addressing and WS-Management used inside EPR values. The
// firmware declares the wscim common namespace (of CIM datetimes) right
// after the class namespace, so its prefix is the next letter.
func writeInstance(w *soap.Writer, className, pfx string, in *instance) {
	if in.class != "" {
		className = in.class
	}
	root := pfx + ":" + className
	w.Start(root)
	for _, name := range in.names() {
		p := in.props[name]
		el := pfx + ":" + name
		if p.epr != nil {
			w.Start(el)
			writeEPR(w, p.epr)
			w.End(el)
			continue
		}
		if p.datetime {
			dt := string(rune(pfx[0]+1)) + ":Datetime"
			for _, v := range p.values {
				w.Start(el)
				w.Elem(dt, v)
				w.End(el)
			}
			continue
		}
		for _, v := range p.values {
			w.Elem(el, v)
		}
	}
	w.End(root)
}

// writeEPR writes the content of an endpoint reference using the fixed
// envelope prefixes b (addressing) and c (wsman).
func writeEPR(w *soap.Writer, e *eprValue) { soap.WriteEPR(w, e.soapEPR()) }

// soapEPR is the reference as the SOAP layer writes it.
func (e *eprValue) soapEPR() *soap.EPR {
	out := &soap.EPR{Address: e.address, ResourceURI: e.resourceURI}
	for _, s := range e.selectors {
		out.Selectors = append(out.Selectors, soap.EPRSelector{Name: s.name, Value: s.value})
	}
	return out
}
