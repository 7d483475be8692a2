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
	d.settlePower(now)
	d.settleOptInLocked(now)
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

func (d *Device) dispatch(req *request, acct Account, relatesTo string) ([]byte, *soap.Fault) {
	if req.Action == "" || req.messageID == "" {
		// DSP0226: wsa:Action and wsa:MessageID are required headers.
		return nil, soap.FaultHeaderRequired()
	}
	if dc, ok := defenseClasses[req.ResourceURI]; ok && classByURI[req.ResourceURI] == nil {
		return d.dispatchDefense(dc, req, acct, relatesTo)
	}
	c := classByURI[req.ResourceURI]
	if c == nil || !c.served(d.major) {
		return nil, soap.FaultDestinationUnreachable()
	}
	ic := c.instanceClass()
	if c.live != nil {
		c.live(d)
	}
	respond := func(action string, bodyNS []string, body func(w *soap.Writer, pfx []string)) []byte {
		return soap.Response(relatesTo, d.nextMessageID(), action, req.ResourceURI, bodyNS, body)
	}
	instanceNS := []string{ic.uri}
	if c.commonNS {
		instanceNS = append(instanceNS, soap.NSCommon)
	}
	// nsOf gives the namespaces of an instance of a subclass of ic.
	nsOf := func(inst *instance) []string {
		if inst == nil || inst.uri == "" {
			return instanceNS
		}
		return append([]string{inst.uri}, instanceNS[1:]...)
	}

	switch req.Action {
	case soap.ActGet:
		inst, f := d.resolve(c, req.Selectors)
		if f != nil {
			return nil, f
		}
		return respond(soap.ActGet+"Response", nsOf(inst), func(w *soap.Writer, pfx []string) {
			writeInstance(w, ic.name, pfx[0], inst)
		}), nil

	case soap.ActPut:
		if !c.supportsPut() {
			return nil, soap.FaultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, soap.FaultAccessDenied()
		}
		inst, f := d.resolve(c, req.Selectors)
		if f != nil {
			return nil, f
		}
		put := c.put
		if put == nil {
			put = func(_ *Device, inst *instance, body *soap.Node) *soap.Fault { return applyPut(c, inst, body) }
		}
		if f := put(d, inst, req.Body); f != nil {
			return nil, f
		}
		return respond(soap.ActPut+"Response", instanceNS, func(w *soap.Writer, pfx []string) {
			writeInstance(w, ic.name, pfx[0], inst)
		}), nil

	case soap.ActCreate, soap.ActDelete:
		// No served class supports Create or Delete yet.
		return nil, soap.FaultActionNotSupported()

	case soap.ActEnumerate:
		mode, f := soap.EnumerationMode(req.Body)
		if f != nil {
			return nil, f
		}
		id := d.openEnumeration(c)
		d.enums[id].mode = mode
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
			g, h := pfx[0], ""
			if len(pfx) > 1 {
				h = pfx[1]
			}
			w.Start(g + ":PullResponse")
			if !done || (c.contextAtEnd != nil && c.contextAtEnd(d.major)) {
				w.Elem(g+":EnumerationContext", id)
			}
			w.Start(g + ":Items")
			for _, inst := range page {
				switch e.mode {
				case soap.ModeEPR:
					writeInstanceEPR(w, ic, inst)
				case soap.ModeObjectAndEPR:
					w.Start("c:Item")
					writeInstance(w, ic.name, h, inst)
					writeInstanceEPR(w, ic, inst)
					w.End("c:Item")
				default:
					writeInstance(w, ic.name, h, inst)
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
	if !ok || method == "" || strings.Contains(method, "/") {
		return nil, soap.FaultActionNotSupported()
	}
	fn := c.methods[method]
	if fn == nil {
		return nil, soap.FaultActionNotSupported()
	}
	if acct.ReadOnly {
		return nil, soap.FaultAccessDenied()
	}
	inst, f := d.resolve(c, req.Selectors)
	if f != nil {
		return nil, f
	}
	input := req.Body
	if input != nil && !input.Is(c.uri, method+"_INPUT") {
		return nil, soap.FaultSchemaValidation()
	}
	out, f := fn(d, inst, input)
	if f != nil {
		return nil, f
	}
	return respond(req.Action+"Response", []string{c.uri}, func(w *soap.Writer, pfx []string) {
		el := pfx[0] + ":" + method + "_OUTPUT"
		w.Start(el)
		for _, p := range out {
			for _, v := range p.values {
				w.Elem(pfx[0]+":"+p.name, v)
			}
		}
		w.End(el)
	}), nil
}

// resolve finds the instance addressed by the selectors. Singletons may be
// addressed without selectors; otherwise every key must be given and match.
func (d *Device) resolve(c *classDef, sels []soap.Selector) (*instance, *soap.Fault) {
	insts := d.instances[c.name]
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

// openEnumeration snapshots the class's instances under a new context,
// dropping expired contexts and, beyond the bound, the least recently used.
// Call with d.mu held.
func (d *Device) openEnumeration(c *classDef) string {
	now := d.pruneEnumerations()
	items := make([]*instance, 0, len(d.instances[c.name]))
	for _, inst := range d.instances[c.name] {
		items = append(items, inst.clone())
	}
	id := d.nextEnumerationID()
	d.enums[id] = &enumeration{class: c, items: items, lastUsed: now}
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

// writeInstanceEPR writes the EndpointReference of an instance, as the
// firmware does in the EPR enumeration modes: its class's resource URI and
// a selector per key property, in key order; a reference-valued key holds
// a nested EndpointReference.
func writeInstanceEPR(w *soap.Writer, ic *classDef, inst *instance) {
	uri, keys := ic.uri, ic.keys
	if inst.uri != "" {
		uri = inst.uri
		if sc := classByURI[inst.uri]; sc != nil {
			keys = sc.instanceClass().keys
		}
	}
	w.Start("b:EndpointReference")
	w.Elem("b:Address", soap.URIAnon)
	w.Start("b:ReferenceParameters")
	w.Elem("c:ResourceURI", uri)
	w.Start("c:SelectorSet")
	for _, k := range keys {
		p, ok := inst.props[k]
		switch {
		case !ok:
		case p.epr != nil:
			w.Start("c:Selector", soap.Attr{Name: "Name", Value: k})
			w.Start("b:EndpointReference")
			writeEPR(w, p.epr)
			w.End("b:EndpointReference")
			w.End("c:Selector")
		case len(p.values) == 1:
			w.Elem("c:Selector", p.values[0], soap.Attr{Name: "Name", Value: k})
		}
	}
	w.End("c:SelectorSet")
	w.End("b:ReferenceParameters")
	w.End("b:EndpointReference")
}
