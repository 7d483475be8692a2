package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strings"
)

//go:generate sh -c "python3 gen_captured.py ../../../shared/recordings > captured_data.go && gofmt -w captured_data.go"

// Classes served as the firmware captures show them (captured_data.go,
// generated from the recordings) and the behaviour a capture or protocol.md
// gives some of them (captured_*.go): hardware inventory, logs, time, ACLs,
// certificates and TLS, 802.1X, KVM, IPv6, alarm clock, environment
// detection, ethernet port, remote access, profiles, and
// CIM_ElementSettingData.

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

// capturedBehaviour adds state to a captured class: writable properties,
// methods and a live refresh of its instances. Instances get per-device
// values through subst.
type capturedBehaviour struct {
	writable map[string]propType
	put      putFunc
	methods  map[string]methodFunc
	live     func(d *Device)
	subst    func(d *Device, in *instance)
}

// capturedBehaviours is filled by setupCapturedBehaviours.
var capturedBehaviours = map[string]*capturedBehaviour{}

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

// buildCaptured returns the instances a device of this firmware serves.
func buildCaptured(cc *capturedClass, d *Device) []*instance {
	s := cc.shape(d.major)
	if s == nil {
		return nil
	}
	beh := capturedBehaviours[cc.name]
	out := make([]*instance, 0, len(s.instances))
	for i := range s.instances {
		in := s.instances[i].build(cc)
		if beh != nil && beh.subst != nil {
			beh.subst(d, in)
		}
		out = append(out, in)
	}
	if !s.complete {
		for _, sub := range continuations[cc.name] {
			sc := capturedByName[sub]
			for _, in := range buildCaptured(sc, d) {
				if in.class == "" {
					in.class, in.uri = sc.name, capturedURI(sc.name)
				}
				out = append(out, in)
			}
		}
	}
	return out
}

var capturedByName = map[string]*capturedClass{}

// registerCaptured adds the classes served from their captures, then those
// served from protocol.md alone, to the class table.
func registerCaptured() {
	setupCapturedBehaviours()
	for _, cc := range capturedClasses {
		capturedByName[cc.name] = cc
	}
	for _, cc := range capturedClasses {
		if classByURI[capturedURI(cc.name)] != nil {
			continue // modelled elsewhere
		}
		c := &classDef{
			name:      cc.name,
			uri:       capturedURI(cc.name),
			commonNS:  cc.commonNS,
			singleton: cc.singleton,
			keys:      cc.keys,
			build:     func(d *Device) []*instance { return buildCaptured(cc, d) },
			contextAtEnd: func(major int) bool {
				s := cc.shape(major)
				return s != nil && s.contextAtEnd
			},
		}
		if b := capturedBehaviours[cc.name]; b != nil {
			c.writable, c.put, c.methods, c.live = b.writable, b.put, b.methods, b.live
		}
		registerClass(c)
	}
	for _, c := range protocolClasses {
		registerClass(c)
	}
}

// protocolClasses are served from protocol.md alone (no capture).
var protocolClasses []*classDef

func registerClass(c *classDef) {
	classTable = append(classTable, c)
	classByURI[c.uri] = c
}
