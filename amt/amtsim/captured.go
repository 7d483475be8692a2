package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strings"
)

//go:generate sh -c "python3 gen_captured.py ../../../shared/recordings > captured_data.go && gofmt -w captured_data.go"

// Classes served as the firmware captures show them: the captured
// instances (captured_data.go, generated from the recordings) and how a
// class is built from them. Each class is bound to its family's unit by a
// line of the class table (family.captured), and the unit gives it its
// behaviour: hardware inventory (inventory.go), logs (logs.go), time
// (timesync.go), ACLs (acl.go), certificates, TLS and 802.1X
// (certificates.go), KVM (kvm.go), and the settings classes
// (identity.go).

// capturedProp is one property of a captured instance.
type capturedProp struct {
	name     string
	values   []string
	datetime bool
	epr      *eprValue
}

// capturedInstance is one instance as a capture shows it; class and uri
// are the element's own, a subclass when an enumeration of a parent class
// returned it.
type capturedInstance struct {
	class, uri string
	props      []capturedProp
}

// capturedShape is the instance set of one firmware generation: firmware
// of major version from or later (up to the next shape) serves it.
// complete is false when the capture was a page that did not end the
// enumeration.
type capturedShape struct {
	from     int
	source   string
	complete bool
	// contextAtEnd: the last page still carries the enumeration context
	// beside EndOfSequence, as this capture does.
	contextAtEnd bool
	instances    []capturedInstance
}

// capturedClass is a class served from its captures.
type capturedClass struct {
	name      string
	commonNS  bool
	singleton bool
	keys      []string
	shapes    []capturedShape
}

// continuations: an enumeration of a parent class whose capture ended
// before the end of the enumeration goes on with the instances of these
// served subclasses, a page per class (modelled: the first page of the
// AMT 12 CIM_Chip enumeration holds the processor chip and an open
// context; CIM_PhysicalMemory is the subclass the AMT 8 device returned
// for the same enumeration).
var continuations = map[string][]string{
	"CIM_Chip": {"CIM_PhysicalMemory"},
}

func (cc *capturedClass) shape(major int) *capturedShape {
	var pick *capturedShape
	for i := range cc.shapes {
		if cc.shapes[i].from <= major {
			pick = &cc.shapes[i]
		}
	}
	return pick
}

func (ci *capturedInstance) build(cc *capturedClass) *instance {
	in := newInstance()
	if ci.class != cc.name {
		in.class, in.uri = ci.class, ci.uri
	}
	for _, p := range ci.props {
		if p.epr != nil {
			in.setEPR(p.name, *p.epr)
			continue
		}
		in.set(p.name, p.values...)
		if p.datetime {
			pp := in.props[p.name]
			pp.datetime = true
			in.props[p.name] = pp
		}
	}
	return in
}

func capturedURI(name string) string {
	switch {
	case strings.HasPrefix(name, "AMT_"):
		return soap.PrefixAMT + name
	case strings.HasPrefix(name, "IPS_"):
		return soap.PrefixIPS + name
	}
	return soap.PrefixCIM + name
}

// buildCaptured returns the instances a device of this firmware serves,
// each given the device's own values by sub (nil: none). An enumeration
// whose capture ended early goes on with the instances of the served
// subclasses (continuations), built as their own classes are.
func buildCaptured(cc *capturedClass, d *Device, sub func(*instance)) []*instance {
	s := cc.shape(d.major)
	if s == nil {
		return nil
	}
	out := make([]*instance, 0, len(s.instances))
	for i := range s.instances {
		in := s.instances[i].build(cc)
		if sub != nil {
			sub(in)
		}
		out = append(out, in)
	}
	if !s.complete {
		for _, name := range continuations[cc.name] {
			sc := classesByName[name]
			for _, in := range sc.build(d) {
				if in.class == "" {
					in.class, in.uri = sc.name, sc.uri
				}
				out = append(out, in)
			}
		}
	}
	return out
}

// capturedByName indexes the captured classes by name.
var capturedByName = func() map[string]*capturedClass {
	m := make(map[string]*capturedClass, len(capturedClasses))
	for _, cc := range capturedClasses {
		m[cc.name] = cc
	}
	return m
}()
