package sysdefense

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Resource URI prefixes (protocol.md §1.3).
const (
	PrefixCIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
	PrefixAMT = "http://intel.com/wbem/wscim/1/amt-schema/1/"
)

// Class names of the System Defense model (protocol.md §4.1).
const (
	ClassService             = "AMT_SystemDefenseService"
	ClassHdr8021Filter       = "AMT_Hdr8021Filter"
	ClassIPHeadersFilter     = "AMT_IPHeadersFilter"
	ClassNetworkFilter       = "AMT_NetworkFilter"
	ClassPolicy              = "AMT_SystemDefensePolicy"
	ClassFilterInPolicy      = "AMT_FilterInSystemDefensePolicy"
	ClassPolicyInService     = "AMT_SystemDefensePolicyInService"
	ClassPortPolicy          = "AMT_NetworkPortSystemDefensePolicy"
	ClassPortDefaultPolicy   = "AMT_NetworkPortDefaultSystemDefensePolicy"
	ClassActiveStatistics    = "AMT_ActiveFilterStatistics"
	ClassGeneralCapabilities = "AMT_GeneralSystemDefenseCapabilities"
	ClassPortCapabilities    = "AMT_NetworkPortSystemDefenseCapabilities"
	ClassEthernetPort        = "CIM_EthernetPort"
)

// Methods of AMT_SystemDefensePolicy (protocol.md §4.3).
const (
	MethodGetTimeout       = "GetTimeout"
	MethodSetTimeout       = "SetTimeout"
	MethodUpdateStatistics = "UpdateStatistics"
)

// URI returns the resource URI of a class of this unit (also the XML
// namespace of its instances).
func URI(class string) string {
	if class == ClassEthernetPort {
		return PrefixCIM + class
	}
	return PrefixAMT + class
}

// Class describes one class the unit serves, for the class table of the
// simulator.
type Class struct {
	Name string
	URI  string
	// Keys are the key properties; Get and Delete take them as selectors.
	Keys []string
	// Singleton classes may be addressed without selectors.
	Singleton bool
	// Create and Delete say whether the intrinsic operations are served;
	// classes without them answer wsa:ActionNotSupported.
	Create, Delete bool
	// Methods are the extrinsic methods.
	Methods []string
	// CommonNS says that responses declare the wscim common namespace:
	// the CIM_EthernetPort captures do, and CIM datetime properties are
	// written as a Datetime element in it.
	CommonNS bool
}

var filterKeys = []string{"CreationClassName", "InstanceID", "Name", "SystemCreationClassName", "SystemName"}

var classes = []Class{
	{Name: ClassService, Keys: []string{"CreationClassName", "Name", "SystemCreationClassName", "SystemName"}, Singleton: true},
	{Name: ClassHdr8021Filter, Keys: filterKeys, Create: true, Delete: true},
	{Name: ClassIPHeadersFilter, Keys: filterKeys, Create: true, Delete: true},
	{Name: ClassNetworkFilter, Keys: filterKeys},
	{Name: ClassPolicy, Keys: []string{"InstanceID"}, Create: true, Delete: true,
		Methods: []string{MethodGetTimeout, MethodSetTimeout, MethodUpdateStatistics}},
	{Name: ClassFilterInPolicy, Keys: []string{"Antecedent", "Dependent"}},
	{Name: ClassPolicyInService, Keys: []string{"Antecedent", "Dependent"}},
	{Name: ClassPortPolicy, Keys: []string{"Antecedent", "Dependent"}, Create: true, Delete: true},
	{Name: ClassPortDefaultPolicy, Keys: []string{"Antecedent", "Dependent"}, Create: true, Delete: true},
	{Name: ClassActiveStatistics, Keys: []string{"Antecedent", "Dependent"}, CommonNS: true},
	{Name: ClassGeneralCapabilities, Keys: []string{"InstanceID"}, Singleton: true},
	{Name: ClassPortCapabilities, Keys: []string{"InstanceID"}},
	{Name: ClassEthernetPort, Keys: []string{"CreationClassName", "DeviceID", "SystemCreationClassName", "SystemName"}, CommonNS: true},
}

func init() {
	for i := range classes {
		classes[i].URI = URI(classes[i].Name)
	}
}

// Classes returns the classes the unit serves.
func Classes() []Class {
	out := make([]Class, len(classes))
	for i, c := range classes {
		c.Keys = slices.Clone(c.Keys)
		c.Methods = slices.Clone(c.Methods)
		out[i] = c
	}
	return out
}

func classByName(name string) *Class {
	for i := range classes {
		if classes[i].Name == name {
			return &classes[i]
		}
	}
	return nil
}

// EPR is an endpoint reference: a resource URI and its selectors. The
// address is not kept: AMT ignores it (protocol.md §1.6) and writes the
// anonymous address.
type EPR struct {
	ResourceURI string
	Selectors   []Selector
}

// Selector is one wsman:Selector; an EPR-valued selector has EPR set and
// an empty Value.
type Selector struct {
	Name  string
	Value string
	EPR   *EPR
}

// Field is one child element of a Create body or a method's _INPUT
// element, in document order; arrays are repeated fields. A field holding
// an endpoint reference (a:Address and a:ReferenceParameters) has EPR set.
type Field struct {
	Name  string
	Value string
	EPR   *EPR
}

// Property is one property of an instance: text values (one per array
// element), an endpoint reference, or a CIM datetime.
type Property struct {
	Name     string
	Values   []string
	EPR      *EPR
	Datetime *time.Time
}

// Instance is a CIM instance with its properties in ASCII order of their
// names, as the firmware serializer writes them.
type Instance struct {
	Class string
	Props []Property
}

// Get returns the first value of a text property.
func (in *Instance) Get(name string) (string, bool) {
	for _, p := range in.Props {
		if p.Name == name && len(p.Values) > 0 {
			return p.Values[0], true
		}
	}
	return "", false
}

// Prop returns the named property.
func (in *Instance) Prop(name string) (Property, bool) {
	for _, p := range in.Props {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

// instanceBuilder collects properties and sorts them on build.
type instanceBuilder struct {
	in Instance
}

func newBuilder(class string) *instanceBuilder { return &instanceBuilder{in: Instance{Class: class}} }

func (b *instanceBuilder) set(name string, values ...string) *instanceBuilder {
	b.in.Props = append(b.in.Props, Property{Name: name, Values: slices.Clone(values)})
	return b
}

func (b *instanceBuilder) epr(name string, e EPR) *instanceBuilder {
	b.in.Props = append(b.in.Props, Property{Name: name, EPR: &e})
	return b
}

func (b *instanceBuilder) datetime(name string, t time.Time) *instanceBuilder {
	t = t.UTC().Truncate(time.Second)
	b.in.Props = append(b.in.Props, Property{Name: name, Datetime: &t})
	return b
}

func (b *instanceBuilder) build() *Instance {
	sort.SliceStable(b.in.Props, func(i, j int) bool { return b.in.Props[i].Name < b.in.Props[j].Name })
	in := b.in
	return &in
}

// FaultCode names the WS-Management fault a request gets.
type FaultCode int

// Fault codes; each maps to one subcode of protocol.md §1.7.
const (
	// FaultInvalidSelectors is wsman:InvalidSelectors: missing or wrong
	// selectors, or no instance matches them.
	FaultInvalidSelectors FaultCode = iota + 1
	// FaultSchemaValidation is wsman:SchemaValidationError: a Create body
	// or method input of the wrong element, an unknown property, a
	// missing required property or a value of the wrong type.
	FaultSchemaValidation
	// FaultActionNotSupported is wsa:ActionNotSupported.
	FaultActionNotSupported
	// FaultAlreadyExists is wsman:AlreadyExists.
	FaultAlreadyExists
	// FaultInternalError is wsman:InternalError with detail
	// "AMT-STATUS <Status>".
	FaultInternalError
)

// Fault is a failed request. Status is the PT_STATUS of a
// FaultInternalError.
type Fault struct {
	Code   FaultCode
	Status int
	Reason string
}

func (f *Fault) Error() string {
	names := map[FaultCode]string{
		FaultInvalidSelectors:   "InvalidSelectors",
		FaultSchemaValidation:   "SchemaValidationError",
		FaultActionNotSupported: "ActionNotSupported",
		FaultAlreadyExists:      "AlreadyExists",
		FaultInternalError:      "InternalError",
	}
	s := "sysdefense: " + names[f.Code]
	if f.Code == FaultInternalError {
		s += fmt.Sprintf(" (AMT-STATUS %d)", f.Status)
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

func schemaFault(format string, args ...any) *Fault {
	return &Fault{Code: FaultSchemaValidation, Reason: fmt.Sprintf(format, args...)}
}

func statusFault(status int, format string, args ...any) *Fault {
	return &Fault{Code: FaultInternalError, Status: status, Reason: fmt.Sprintf(format, args...)}
}

func selectorFault(format string, args ...any) *Fault {
	return &Fault{Code: FaultInvalidSelectors, Reason: fmt.Sprintf(format, args...)}
}
