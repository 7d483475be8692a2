package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"net/http"
	"slices"
	"strings"
	"time"
)

// execute runs an authenticated WS-Management request (other than
// Identify) against the device state and returns the HTTP status and body.
func (d *Device) execute(req *request, acct Account) (int, []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	d.power.Settle(now)
	d.consent.Settle(now)
	d.stats.Actions[req.Action]++
	relatesTo := req.messageID
	if relatesTo == "" {
		relatesTo = "0"
	}
	body, f := d.dispatch(req, acct, relatesTo)
	if f != nil {
		return http.StatusBadRequest, faultEnvelope(relatesTo, d.nextMessageID(), f)
	}
	return http.StatusOK, body
}

// dispatch answers a request from the class table: it finds the class by
// resource URI, checks what every class checks (the action is served, the
// account may write, the bodies have the element the operation needs),
// hands the operation to the class's unit and writes the answer.
func (d *Device) dispatch(req *request, acct Account, relatesTo string) ([]byte, *soap.Fault) {
	if req.Action == "" || req.messageID == "" {
		// DSP0226: wsa:Action and wsa:MessageID are required headers.
		return nil, soap.FaultHeaderRequired()
	}
	c := classByURI[req.ResourceURI]
	if c == nil || !c.served(d.major) {
		return nil, soap.FaultDestinationUnreachable()
	}
	ops := c.operations()
	if c.live != nil {
		c.live(d)
	}
	respond := func(action string, bodyNS []string, body soap.BodyFunc) []byte {
		return soap.Response(relatesTo, d.nextMessageID(), action, req.ResourceURI, bodyNS, body)
	}
	instanceNS := c.instanceNS()
	// nsOf gives the namespaces of an instance, which may be one of a
	// subclass of the addressed class.
	nsOf := func(e entry) []string {
		if e.uri == "" {
			return instanceNS
		}
		return append([]string{e.uri}, instanceNS[1:]...)
	}
	className := c.instanceClass().name

	switch req.Action {
	case soap.ActGet:
		e, f := ops.get(d, c, req.Selectors)
		if f != nil {
			return nil, f
		}
		return respond(soap.ActGet+"Response", nsOf(e), func(w *soap.Writer, pfx []string) {
			e.write(w, className, pfx)
		}), nil

	case soap.ActPut:
		if ops.put == nil {
			return nil, soap.FaultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, soap.FaultAccessDenied()
		}
		if d.refusesWorkLocked(c) {
			return nil, soap.FaultInternalError(ptInvalidProvisioningState)
		}
		e, f := ops.put(d, c, req.Selectors, req.Body)
		if f != nil {
			return nil, f
		}
		return respond(soap.ActPut+"Response", instanceNS, func(w *soap.Writer, pfx []string) {
			e.write(w, className, pfx)
		}), nil

	case soap.ActCreate:
		if ops.create == nil {
			return nil, soap.FaultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, soap.FaultAccessDenied()
		}
		if d.refusesWorkLocked(c) {
			return nil, soap.FaultInternalError(ptInvalidProvisioningState)
		}
		if !req.Body.Is(c.uri, c.name) {
			return nil, soap.FaultSchemaValidation()
		}
		ref, f := ops.create(d, c, req.Body)
		if f != nil {
			return nil, f
		}
		return respond(soap.ActCreate+"Response", []string{soap.NSTransfer}, func(w *soap.Writer, pfx []string) {
			w.Start(pfx[0] + ":ResourceCreated")
			soap.WriteEPR(w, ref)
			w.End(pfx[0] + ":ResourceCreated")
		}), nil

	case soap.ActDelete:
		if ops.delete == nil {
			return nil, soap.FaultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, soap.FaultAccessDenied()
		}
		if d.refusesWorkLocked(c) {
			return nil, soap.FaultInternalError(ptInvalidProvisioningState)
		}
		if f := ops.delete(d, c, req.Selectors); f != nil {
			return nil, f
		}
		return respond(soap.ActDelete+"Response", nil, nil), nil

	case soap.ActEnumerate:
		mode, f := soap.EnumerationMode(req.Body)
		if f != nil {
			return nil, f
		}
		items, f := ops.enumerate(d, c, req.Body)
		if f != nil {
			return nil, f
		}
		id := d.openEnumeration(c, items, mode)
		return respond(soap.ActEnumerate+"Response", []string{soap.NSEnum}, func(w *soap.Writer, pfx []string) {
			g := pfx[0]
			w.Start(g + ":EnumerateResponse")
			w.Elem(g+":EnumerationContext", id)
			w.End(g + ":EnumerateResponse")
		}), nil

	case soap.ActPull:
		if !req.Body.Is(soap.NSEnum, "Pull") {
			return nil, soap.FaultSchemaValidation()
		}
		id, maxElements, err := soap.PullParams(req.Body)
		if err != nil {
			return nil, soap.FaultSchemaValidation()
		}
		e := d.lookupEnumeration(id, c)
		if e == nil {
			return nil, soap.FaultInvalidEnumerationContext()
		}
		n := min(maxElements, len(e.items))
		// A page holds instances of one class: the firmware ends a page
		// where an enumeration of a parent class moves on to a subclass.
		for i := 1; i < n; i++ {
			if e.items[i].class != e.items[0].class {
				n = i
				break
			}
		}
		page := e.items[:n]
		e.items = e.items[n:]
		done := len(e.items) == 0
		if done {
			delete(d.enums, id)
		}
		// An empty page declares no instance namespace, as captured; nor
		// does a page of EPRs alone.
		ns := []string{soap.NSEnum}
		if len(page) > 0 && e.mode != soap.ModeEPR {
			ns = append(ns, nsOf(page[0])...)
		}
		return respond(soap.ActPull+"Response", ns, func(w *soap.Writer, pfx []string) {
			g := pfx[0]
			w.Start(g + ":PullResponse")
			if !done || (c.contextAtEnd != nil && c.contextAtEnd(d.major)) {
				w.Elem(g+":EnumerationContext", id)
			}
			w.Start(g + ":Items")
			for _, it := range page {
				switch e.mode {
				case soap.ModeEPR:
					soap.WriteEndpointReference(w, it.ref())
				case soap.ModeObjectAndEPR:
					w.Start("c:Item")
					it.write(w, className, pfx[1:])
					soap.WriteEndpointReference(w, it.ref())
					w.End("c:Item")
				default:
					it.write(w, className, pfx[1:])
				}
			}
			w.End(g + ":Items")
			if done {
				w.Elem(g+":EndOfSequence", "")
			}
			w.End(g + ":PullResponse")
		}), nil

	case soap.ActRelease:
		if !req.Body.Is(soap.NSEnum, "Release") {
			return nil, soap.FaultSchemaValidation()
		}
		id := req.Body.Child(soap.NSEnum, "EnumerationContext").Value()
		if d.lookupEnumeration(id, c) == nil {
			return nil, soap.FaultInvalidEnumerationContext()
		}
		delete(d.enums, id)
		return respond(soap.ActRelease+"Response", nil, nil), nil
	}

	// Extrinsic method: <ResourceURI>/<Method>.
	method, ok := strings.CutPrefix(req.Action, c.uri+"/")
	if !ok || method == "" || strings.Contains(method, "/") || ops.invoke == nil || !ops.hasMethod(c, method) {
		return nil, soap.FaultActionNotSupported()
	}
	if acct.ReadOnly {
		return nil, soap.FaultAccessDenied()
	}
	var out []outParam
	var f *soap.Fault
	if d.refusesWorkLocked(c) {
		out = returnValue(c.vendorStatus(ptInvalidProvisioningState))
	} else if out, f = ops.invoke(d, c, method, req.Selectors, req.Body); f != nil {
		return nil, f
	}
	return respond(req.Action+"Response", []string{c.uri}, func(w *soap.Writer, pfx []string) {
		el := pfx[0] + ":" + method + "_OUTPUT"
		w.Start(el)
		for _, p := range out {
			if p.epr != nil {
				w.Start(pfx[0] + ":" + p.name)
				soap.WriteEPR(w, p.epr)
				w.End(pfx[0] + ":" + p.name)
				continue
			}
			for _, v := range p.values {
				w.Elem(pfx[0]+":"+p.name, v)
			}
		}
		w.End(el)
	}), nil
}

// ptInvalidProvisioningState is PT_STATUS INVALID_PROVISIONING_STATE.
const ptInvalidProvisioningState = 32

// setupClasses are the classes a device in pre-provisioning takes writes
// and methods of: provisioning happens through them.
var setupClasses = map[string]bool{
	"AMT_SetupAndConfigurationService": true,
	"IPS_HostBasedSetupService":        true,
}

// refusesWorkLocked reports whether the device refuses a write or method
// of the class because it is in pre-provisioning: it answers Puts,
// Creates and Deletes with wsman:InternalError and AMT-STATUS 32
// (INVALID_PROVISIONING_STATE), and methods with ReturnValue 32 (32800,
// the vendor offset, on CIM classes), while Gets and Enumerates are
// answered as the Get of an unprovisioned device is captured
// (AMT_GeneralSettings/GetResponse__rps__2) [modelled: protocol.md names
// the status; no capture shows which operations firmware refuses;
// Device.SetRefuseWhenUnprovisioned turns it off].
func (d *Device) refusesWorkLocked(c *classDef) bool {
	return d.prof.provState == 0 && !d.acceptUnprovisioned && !setupClasses[c.name]
}

// vendorStatus is a PT_STATUS as a method of the class returns it: as is
// on AMT and IPS classes, offset by 32768 on CIM classes (protocol.md §6).
func (c *classDef) vendorStatus(pt int) int {
	if strings.HasPrefix(c.name, "CIM_") {
		return 32768 + pt
	}
	return pt
}

// storeOps serve a class from the device's instance store (d.store),
// with the class definition's Put rule and methods.
var storeOps = &classOps{
	get: func(d *Device, c *classDef, sels []soap.Selector) (entry, *soap.Fault) {
		inst, f := d.resolve(c, sels)
		if f != nil {
			return entry{}, f
		}
		return storeEntry(c, inst), nil
	},
	put: func(d *Device, c *classDef, sels []soap.Selector, body *soap.Node) (entry, *soap.Fault) {
		inst, f := d.resolve(c, sels)
		if f != nil {
			return entry{}, f
		}
		put := c.put
		if put == nil {
			put = func(_ *Device, inst *instance, body *soap.Node) *soap.Fault { return applyPut(c, inst, body) }
		}
		if f := put(d, inst, body); f != nil {
			return entry{}, f
		}
		return storeEntry(c, inst), nil
	},
	enumerate: func(d *Device, c *classDef, _ *soap.Node) ([]entry, *soap.Fault) {
		insts := d.instancesOf(c.name)
		items := make([]entry, 0, len(insts))
		for _, inst := range insts {
			items = append(items, storeEntry(c, inst.clone()))
		}
		return items, nil
	},
	hasMethod: func(c *classDef, method string) bool { return c.methods[method] != nil },
	invoke: func(d *Device, c *classDef, method string, sels []soap.Selector, input *soap.Node) ([]outParam, *soap.Fault) {
		inst, f := d.resolve(c, sels)
		if f != nil {
			return nil, f
		}
		if input != nil && !input.Is(c.uri, method+"_INPUT") {
			return nil, soap.FaultSchemaValidation()
		}
		return c.methods[method](d, inst, input)
	},
}

// storeOpsNoPut serve a class of the store that takes no Put.
var storeOpsNoPut = func() *classOps {
	o := *storeOps
	o.put = nil
	return &o
}()

// storeOpsDelete and storeOpsNoPutDelete also serve Delete, through the
// class's own rule (classDef.del).
var (
	storeOpsDelete      = withStoreDelete(storeOps)
	storeOpsNoPutDelete = withStoreDelete(storeOpsNoPut)
)

func withStoreDelete(ops *classOps) *classOps {
	o := *ops
	o.delete = func(d *Device, c *classDef, sels []soap.Selector) *soap.Fault { return c.del(d, c, sels) }
	return &o
}

// storeEntry is an instance of the store as the dispatcher writes it.
func storeEntry(c *classDef, inst *instance) entry {
	return entry{
		class: inst.class,
		uri:   inst.uri,
		write: func(w *soap.Writer, className string, pfx []string) { writeInstance(w, className, pfx[0], inst) },
		ref:   func() *soap.EPR { return instanceEPR(c.instanceClass(), inst) },
	}
}

// resolve finds the instance addressed by the selectors. Singletons may be
// addressed without selectors; otherwise every key must be given and match.
func (d *Device) resolve(c *classDef, sels []soap.Selector) (*instance, *soap.Fault) {
	insts := d.instancesOf(c.name)
	if len(sels) == 0 {
		if c.singleton && len(insts) == 1 {
			return insts[0], nil
		}
		return nil, soap.FaultInvalidSelectors()
	}
	given := map[string]bool{}
	for _, s := range sels {
		if !slices.Contains(c.keys, s.Name) || given[s.Name] {
			return nil, soap.FaultInvalidSelectors()
		}
		given[s.Name] = true
	}
	if !c.singleton && len(given) != len(c.keys) {
		return nil, soap.FaultInvalidSelectors()
	}
	for _, inst := range insts {
		if selectorsMatch(inst, sels) {
			return inst, nil
		}
	}
	return nil, soap.FaultInvalidSelectors()
}

func selectorsMatch(inst *instance, sels []soap.Selector) bool {
	for _, s := range sels {
		p, ok := inst.props[s.Name]
		if !ok {
			return false
		}
		if p.epr != nil {
			if s.EPR == nil || !eprMatches(p.epr, s.EPR) {
				return false
			}
			continue
		}
		if s.EPR != nil || len(p.values) != 1 || p.values[0] != s.Value {
			return false
		}
	}
	return true
}

// eprMatches compares a selector's EndpointReference with a stored one by
// resource URI and selector values (the address is ignored, like AMT).
func eprMatches(want *eprValue, got *soap.Node) bool {
	rp := got.Child(soap.NSAddr, "ReferenceParameters")
	if rp.Child(soap.NSWSMan, "ResourceURI").Value() != want.resourceURI {
		return false
	}
	ss := rp.Child(soap.NSWSMan, "SelectorSet")
	if ss == nil {
		return false
	}
	n := 0
	for _, s := range ss.Children {
		if !s.Is(soap.NSWSMan, "Selector") {
			continue
		}
		name, _ := s.Attr("Name")
		if !slices.Contains(want.selectors, attr{name, s.Value()}) {
			return false
		}
		n++
	}
	return n == len(want.selectors)
}

// applyPut updates the writable properties present in body. Read-only
// properties may be echoed unchanged; changing one is refused. Nothing is
// changed unless the whole body is acceptable.
func applyPut(c *classDef, inst *instance, body *soap.Node) *soap.Fault {
	if !body.Is(c.uri, c.name) {
		return soap.FaultSchemaValidation()
	}
	var order []string
	values := map[string][]string{}
	for _, ch := range body.Children {
		if ch.Space != c.uri {
			return soap.FaultSchemaValidation()
		}
		if _, seen := values[ch.Local]; !seen {
			order = append(order, ch.Local)
		}
		values[ch.Local] = append(values[ch.Local], ch.Value())
	}
	for _, name := range order {
		vals := values[name]
		if t, ok := c.writable[name]; ok {
			for _, v := range vals {
				if !t.valid(v) {
					return soap.FaultSchemaValidation()
				}
			}
			continue
		}
		cur, ok := inst.props[name]
		if !ok || cur.epr != nil || !slices.Equal(cur.values, vals) {
			return soap.FaultInvalidRepresentation()
		}
	}
	for _, name := range order {
		if _, ok := c.writable[name]; ok {
			inst.set(name, values[name]...)
		}
	}
	return nil
}

// openEnumeration stores the snapshot of a class's instances under a new
// context, dropping expired contexts and, beyond the bound, the least
// recently used. Call with d.mu held.
func (d *Device) openEnumeration(c *classDef, items []entry, mode soap.Mode) string {
	now := d.pruneEnumerations()
	id := d.nextEnumerationID()
	d.enums[id] = &enumeration{class: c, items: items, lastUsed: now, mode: mode}
	return id
}

// pruneEnumerations drops expired contexts and, beyond the bound, the
// least recently used, and returns the time it used. Call with d.mu held.
func (d *Device) pruneEnumerations() time.Time {
	now := time.Now()
	timeout := d.srv.opts.EnumerationTimeout
	for id, e := range d.enums {
		if now.Sub(e.lastUsed) > timeout {
			delete(d.enums, id)
		}
	}
	for len(d.enums) >= d.srv.opts.MaxEnumerations {
		var oldest string
		var oldestT time.Time
		for id, e := range d.enums {
			if oldest == "" || e.lastUsed.Before(oldestT) {
				oldest, oldestT = id, e.lastUsed
			}
		}
		delete(d.enums, oldest)
	}
	return now
}

// lookupEnumeration returns a live context of class c, or nil. Call with
// d.mu held.
func (d *Device) lookupEnumeration(id string, c *classDef) *enumeration {
	e := d.enums[id]
	if e == nil {
		return nil
	}
	now := time.Now()
	if now.Sub(e.lastUsed) > d.srv.opts.EnumerationTimeout {
		delete(d.enums, id)
		return nil
	}
	if e.class != c {
		return nil
	}
	e.lastUsed = now
	return e
}

// instanceEPR is the EndpointReference of an instance, as the firmware
// writes it in the EPR enumeration modes: its class's resource URI and a
// selector per key property, in key order; a reference-valued key holds a
// nested EndpointReference.
func instanceEPR(ic *classDef, inst *instance) *soap.EPR {
	uri, keys := ic.uri, ic.keys
	if inst.uri != "" {
		uri = inst.uri
		if sc := classByURI[inst.uri]; sc != nil {
			keys = sc.instanceClass().keys
		}
	}
	ref := &soap.EPR{ResourceURI: uri}
	for _, k := range keys {
		p, ok := inst.props[k]
		switch {
		case !ok:
		case p.epr != nil:
			ref.Selectors = append(ref.Selectors, soap.EPRSelector{Name: k, EPR: p.epr.soapEPR()})
		case len(p.values) == 1:
			ref.Selectors = append(ref.Selectors, soap.EPRSelector{Name: k, Value: p.values[0]})
		}
	}
	return ref
}
