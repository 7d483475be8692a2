package amtsim

import (
	"strconv"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// The boot order through the wildcard association enumeration the go-amt
// dashcli session records (CIM_OrderedComponent__via_wildcard_association):
// an EnumerateObjectAndEPR of the resource URI
// http://schemas.dmtf.org/wbem/wscim/1/* with an association filter on
// the boot configuration (Role GroupComponent, ResultClassName
// CIM_OrderedComponent) pulls a CIM_OrderedComponent per boot source in
// the order, AssignedSequence from 1. The captured order is the hard
// drive, then PXE. The source ChangeBootOrder selected comes first, then
// the captured order without it [modelled: no capture of the order after
// a change]. The resource URI answers nothing but filtered Enumerates,
// Pulls and Releases: Get and the other operations get
// wsa:ActionNotSupported and an Enumerate without the filter, or with
// another dialect, wsman:UnsupportedFeature [modelled: no capture].

const (
	uriCIMWildcard       = "http://schemas.dmtf.org/wbem/wscim/1/*"
	dialectAssociation   = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding/associationFilter"
	uriOrderedComponent  = soap.PrefixCIM + "CIM_OrderedComponent"
	orderedComponentName = "CIM_OrderedComponent"
)

// capturedBootOrder is the boot order of the captured device.
var capturedBootOrder = []string{sourceHDD, sourcePXE}

var classOrderedComponent = &classDef{
	name: orderedComponentName,
	uri:  uriOrderedComponent,
	keys: []string{"GroupComponent", "PartComponent"},
}

var classCIMWildcard = &classDef{
	name: orderedComponentName,
	uri:  uriCIMWildcard,
	inst: classOrderedComponent,
	ops: &classOps{
		get: func(*Device, *classDef, []soap.Selector) (entry, *soap.Fault) {
			return entry{}, soap.FaultActionNotSupported()
		},
		enumerate: func(d *Device, c *classDef, body *soap.Node) ([]entry, *soap.Fault) {
			return bootFamily.unit(d).orderedComponents(c, body)
		},
	},
}

// orderedComponents answers the association filter on the boot
// configuration. Call with the device lock held.
func (u bootUnit) orderedComponents(c *classDef, body *soap.Node) ([]entry, *soap.Fault) {
	f := body.Child(soap.NSWSMan, "Filter")
	if dialect, _ := f.Attr("Dialect"); f == nil || dialect != dialectAssociation {
		return nil, soap.FaultUnsupportedFeature()
	}
	ai := f.Child(soap.NSCIMBind, "AssociationInstances")
	if ai == nil {
		return nil, soap.FaultUnsupportedFeature()
	}
	if rc := ai.Child(soap.NSCIMBind, "ResultClassName"); rc != nil && rc.Value() != orderedComponentName {
		return nil, nil
	}
	if role := ai.Child(soap.NSCIMBind, "Role"); role != nil && role.Value() != "GroupComponent" {
		return nil, nil
	}
	uri, sels, ok := eprRef(ai.Child(soap.NSCIMBind, "Object"))
	if !ok || uri != uriBootConfigSetting || len(sels) != 1 || sels["InstanceID"] != bootConfigID {
		return nil, nil
	}
	order := capturedBootOrder
	if src := u.source; src != "" {
		order = []string{src}
		for _, s := range capturedBootOrder {
			if s != src {
				order = append(order, s)
			}
		}
	}
	items := make([]entry, 0, len(order))
	for i, src := range order {
		in := newInstance().
			set("AssignedSequence", strconv.Itoa(i+1)).
			setEPR("GroupComponent", eprValue{address: soap.URIAnon, resourceURI: uriBootConfigSetting,
				selectors: []attr{{"InstanceID", bootConfigID}}}).
			setEPR("PartComponent", eprValue{address: soap.URIAnon, resourceURI: uriBootSourceSetting,
				selectors: []attr{{"InstanceID", src}}})
		items = append(items, storeEntry(c, in))
	}
	return items, nil
}
